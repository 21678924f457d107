"""The chat page's stylesheet and browser helper, kept beside the components that use them.

`CHAT_CSS` is rendered once by the page (a <style> element). `CHAT_JS` installs
`window.utoolChat` (scroll position, composer keys, visibility): it runs through
`rx.call_script` on mount and is idempotent. Neither contains user data.
"""

from __future__ import annotations

CHAT_CSS = r"""
.chat-shell {
  display: flex;
  height: calc(100dvh - var(--bar-height, 60px));
  background: var(--color-panel-solid);
  border-left: 1px solid var(--gray-a4);
  border-right: 1px solid var(--gray-a4);
  overflow: hidden;
}
.chat-sidebar {
  width: 340px;
  flex-shrink: 0;
  display: flex;
  flex-direction: column;
  border-right: 1px solid var(--gray-a4);
  background: var(--color-panel-solid);
  min-height: 0;
}
.chat-sidebar-head {
  padding: 16px 16px 12px;
  border-bottom: 1px solid var(--gray-a3);
}
.chat-conv-scroll {
  flex: 1;
  overflow-y: auto;
  padding: 6px;
}
.chat-conv-item {
  display: flex;
  align-items: center;
  gap: 12px;
  padding: 10px 12px;
  border-radius: var(--radius-4);
  text-decoration: none !important;
  color: inherit !important;
  transition: background 120ms ease;
  position: relative;
}
.chat-conv-item:hover { background: var(--gray-a3); }
.chat-conv-item[data-selected="true"] { background: var(--accent-a4); }
.chat-conv-item[data-selected="true"]::before {
  content: "";
  position: absolute;
  left: 0;
  top: 12px;
  bottom: 12px;
  width: 3px;
  border-radius: 3px;
  background: var(--accent-9);
}
.chat-conv-name { font-weight: 600; color: var(--gray-12); min-width: 0; }
.chat-conv-snippet { color: var(--gray-11); min-width: 0; }
.chat-conv-item[data-unread="true"] .chat-conv-snippet { color: var(--gray-12); font-weight: 500; }
.chat-conv-time { color: var(--gray-10); font-size: 12px; white-space: nowrap; }
.chat-conv-item[data-unread="true"] .chat-conv-time { color: var(--accent-11); font-weight: 600; }
.chat-typing-snippet { color: var(--accent-11) !important; font-style: italic; }
.chat-unread-badge {
  min-width: 20px;
  height: 20px;
  padding: 0 6px;
  border-radius: 10px;
  background: var(--accent-9);
  color: white;
  font-size: 12px;
  font-weight: 700;
  display: inline-flex;
  align-items: center;
  justify-content: center;
  box-sizing: border-box;
}

.chat-main {
  flex: 1;
  min-width: 0;
  display: flex;
  flex-direction: column;
  position: relative;
  background:
    radial-gradient(circle at 1px 1px, var(--gray-a3) 1px, transparent 0) 0 0 / 22px 22px,
    var(--gray-2);
}
.chat-header {
  display: flex;
  align-items: center;
  gap: 12px;
  padding: 10px 16px;
  min-height: 64px;
  box-sizing: border-box;
  border-bottom: 1px solid var(--gray-a4);
  background: color-mix(in srgb, var(--color-panel-solid) 92%, transparent);
  backdrop-filter: blur(8px);
  z-index: 2;
}
.chat-back { display: none !important; }

.chat-scroll {
  flex: 1;
  display: flex;
  flex-direction: column;
  overflow-y: auto;
  overflow-x: hidden;
  padding: 12px 20px 8px;
  overscroll-behavior: contain;
  overflow-anchor: none;
}
.chat-messages { margin-top: auto; }
.chat-day {
  display: flex;
  justify-content: center;
  margin: 14px 0 8px;
}
.chat-day span {
  background: var(--color-panel-solid);
  border: 1px solid var(--gray-a4);
  color: var(--gray-11);
  font-size: 12px;
  font-weight: 500;
  padding: 3px 12px;
  border-radius: 999px;
  box-shadow: 0 1px 2px var(--gray-a3);
}
.chat-row {
  display: flex;
  align-items: flex-end;
  gap: 8px;
  position: relative;
  margin-top: 2px;
}
.chat-row[data-first="true"] { margin-top: 10px; }
.chat-row[data-own="true"] { flex-direction: row-reverse; }
.chat-col {
  display: flex;
  flex-direction: column;
  max-width: min(72%, 560px);
  min-width: 0;
}
.chat-row[data-own="true"] .chat-col { align-items: flex-end; }
.chat-sender { font-size: 12px; font-weight: 600; color: var(--accent-11); margin: 0 0 3px 12px; }
.chat-bubble {
  position: relative;
  padding: 7px 12px 6px;
  border-radius: 18px;
  background: var(--color-panel-solid);
  color: var(--gray-12);
  box-shadow: 0 1px 1px var(--gray-a4);
  border: 1px solid var(--gray-a3);
  min-width: 64px;
  max-width: 100%;
  box-sizing: border-box;
}
.chat-row[data-own="false"][data-last="true"] .chat-bubble { border-bottom-left-radius: 6px; }
.chat-row[data-own="true"] .chat-bubble {
  background: var(--accent-9);
  color: white;
  border-color: transparent;
}
.chat-row[data-own="true"][data-last="true"] .chat-bubble { border-bottom-right-radius: 6px; }
.chat-row[data-status="failed"] .chat-bubble { background: var(--red-9); }
.chat-row[data-status="sending"] .chat-bubble { opacity: 0.85; }
.chat-text {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
  word-break: break-word;
  font-size: 15px;
  line-height: 1.4;
}
.chat-deleted { font-style: italic; color: var(--gray-10); display: inline-flex; align-items: center; gap: 6px; font-size: 14px; }
.chat-row[data-own="true"] .chat-deleted { color: rgba(255,255,255,0.8); }
.chat-meta {
  display: inline-flex;
  align-items: center;
  gap: 4px;
  float: right;
  margin: 6px 0 -2px 12px;
  font-size: 11px;
  line-height: 1;
  color: var(--gray-10);
  white-space: nowrap;
}
.chat-row[data-own="true"] .chat-meta { color: rgba(255,255,255,0.78); }
.chat-tick-read { color: #7dd3fc; }
.chat-row[data-own="false"] .chat-tick-read { color: var(--accent-11); }
.chat-reply {
  border-left: 3px solid var(--accent-9);
  background: var(--accent-a3);
  border-radius: 8px;
  padding: 4px 8px;
  margin: 2px 0 6px;
  font-size: 13px;
  max-width: 100%;
}
.chat-row[data-own="true"] .chat-reply { background: rgba(255,255,255,0.16); border-left-color: rgba(255,255,255,0.85); }
.chat-reply-name { font-weight: 600; color: var(--accent-11); font-size: 12px; }
.chat-row[data-own="true"] .chat-reply-name { color: white; }
.chat-reply-text { opacity: 0.9; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.chat-attach-img {
  display: block;
  max-width: 260px;
  max-height: 220px;
  border-radius: 12px;
  margin: 2px 0 6px;
  object-fit: cover;
  background: var(--gray-a3);
}
.chat-file-chip {
  display: inline-flex;
  align-items: center;
  gap: 8px;
  padding: 6px 10px;
  margin: 2px 0 6px;
  border-radius: 10px;
  background: var(--gray-a3);
  color: inherit !important;
  font-size: 13px;
  max-width: 260px;
  text-decoration: none !important;
}
.chat-row[data-own="true"] .chat-file-chip { background: rgba(255,255,255,0.18); }
.chat-attach-fallback { display: none; }
.chat-attach-img[data-broken="true"] {
  /* Kept in the layout (1px) so a lazy image reused for another message still loads. */
  position: absolute; width: 1px; height: 1px; opacity: 0; pointer-events: none; margin: 0;
}
.chat-attach-img[data-broken="true"] + .chat-attach-fallback {
  display: flex;
  align-items: center;
  gap: 10px;
  width: 240px;
  max-width: 100%;
  padding: 10px 12px;
  margin: 2px 0 6px;
  border-radius: 12px;
  border: 1px dashed var(--gray-a7);
  background: var(--gray-a2);
  color: var(--gray-12);
  box-sizing: border-box;
}
.chat-attach-fallback-icon {
  width: 40px; height: 40px; flex-shrink: 0; border-radius: 10px;
  background: var(--gray-a4); color: var(--gray-11);
}
.chat-attach-fallback-hint { color: var(--gray-11); }
.chat-row[data-own="true"] .chat-attach-img[data-broken="true"] + .chat-attach-fallback {
  border-color: rgba(255,255,255,0.5); background: rgba(255,255,255,0.12); color: white;
}
.chat-row[data-own="true"] .chat-attach-fallback-icon { background: rgba(255,255,255,0.2); color: white; }
.chat-row[data-own="true"] .chat-attach-fallback-hint { color: rgba(255,255,255,0.85); }
.chat-header-clickable { cursor: pointer; border-radius: 8px; }
.chat-header-clickable:hover [data-testid="chat-title"] { text-decoration: underline; text-underline-offset: 3px; }
.chat-pick-list {
  width: calc(100% + 16px);
  box-sizing: border-box;
  max-height: min(340px, 45vh);
  overflow-y: auto;
  margin: 0 -8px;
  padding: 2px 4px;
}
.chat-pick-row {
  display: flex;
  align-items: center;
  gap: 12px;
  width: 100%;
  padding: 8px;
  border: none;
  background: transparent;
  border-radius: var(--radius-3);
  text-align: left;
  font: inherit;
  color: inherit;
  cursor: pointer;
}
.chat-pick-row:hover { background: var(--gray-a3); }
.chat-pick-row:focus-visible { outline: 2px solid var(--accent-8); outline-offset: -2px; }
.chat-pick-row[data-picked="true"] { background: var(--accent-a3); }
.chat-chips { display: flex; flex-wrap: wrap; gap: 6px; width: 100%; }
.chat-chip {
  display: inline-flex;
  align-items: center;
  gap: 6px;
  padding: 3px 8px 3px 3px;
  border-radius: 999px;
  border: 1px solid var(--accent-a6);
  background: var(--accent-a3);
  color: var(--accent-12);
  font: inherit;
  cursor: pointer;
}
.chat-chip:hover { background: var(--accent-a4); }
.chat-member-list { margin: 12px -8px 0; width: calc(100% + 16px); box-sizing: border-box; max-height: min(360px, 50vh); overflow-y: auto; }
.chat-member-row { padding: 8px; border-radius: var(--radius-3); }
.chat-member-row:hover { background: var(--gray-a2); }
.chat-empty-icon-sm { width: 48px !important; height: 48px !important; border-radius: 14px !important; }
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;
}
.chat-reactions { display: flex; flex-wrap: wrap; gap: 4px; margin-top: -4px; padding: 0 6px; z-index: 1; }
.chat-reaction {
  display: inline-flex;
  align-items: center;
  gap: 4px;
  padding: 1px 7px;
  border-radius: 999px;
  background: var(--color-panel-solid);
  border: 1px solid var(--gray-a5);
  font-size: 13px;
  cursor: pointer;
  line-height: 20px;
  box-shadow: 0 1px 2px var(--gray-a3);
}
.chat-reaction[data-mine="true"] { border-color: var(--accent-8); background: var(--accent-3); color: var(--accent-11); }
.chat-reaction-count { font-size: 12px; font-weight: 600; }
.chat-actions {
  display: flex;
  align-items: center;
  gap: 2px;
  opacity: 0;
  transition: opacity 120ms ease;
  align-self: center;
  background: var(--color-panel-solid);
  border: 1px solid var(--gray-a4);
  border-radius: 999px;
  padding: 2px;
  box-shadow: 0 2px 6px var(--gray-a4);
}
.chat-row:hover .chat-actions, .chat-actions:focus-within, .chat-actions[data-state="open"] { opacity: 1; }
@media (hover: none) { .chat-actions { opacity: 0.85; } }
.chat-avatar-spacer { width: 32px; flex-shrink: 0; }
.chat-row[data-own="true"] .chat-avatar-spacer { display: none; }
.chat-retry { margin-top: 4px; display: flex; gap: 8px; align-items: center; font-size: 12px; color: var(--red-11); }

.chat-new-below {
  position: absolute;
  left: 50%;
  transform: translateX(-50%) translateY(8px);
  bottom: 96px;
  opacity: 0;
  pointer-events: none;
  transition: opacity 150ms ease, transform 150ms ease;
  z-index: 3;
}
.chat-new-below[data-show="1"] { opacity: 1; pointer-events: auto; transform: translateX(-50%) translateY(0); }

.chat-typing { height: 24px; padding: 0 22px; display: flex; align-items: center; gap: 8px; color: var(--gray-11); font-size: 13px; }
.chat-dots { display: inline-flex; gap: 3px; }
.chat-dots span { width: 6px; height: 6px; border-radius: 50%; background: var(--accent-9); animation: chat-bounce 1.2s infinite ease-in-out; }
.chat-dots span:nth-child(2) { animation-delay: 0.15s; }
.chat-dots span:nth-child(3) { animation-delay: 0.3s; }
@keyframes chat-bounce { 0%, 60%, 100% { transform: translateY(0); opacity: 0.5; } 30% { transform: translateY(-4px); opacity: 1; } }

.chat-composer {
  padding: 8px 16px 14px;
  background: color-mix(in srgb, var(--color-panel-solid) 94%, transparent);
  border-top: 1px solid var(--gray-a4);
}
.chat-composer-box {
  display: flex;
  align-items: flex-end;
  gap: 8px;
  background: var(--gray-2);
  border: 1px solid var(--gray-a5);
  border-radius: 22px;
  padding: 5px 5px 5px 8px;
  transition: border-color 120ms ease, box-shadow 120ms ease;
}
.chat-composer-form { flex: 1; display: flex; align-items: flex-end; gap: 8px; min-width: 0; }
.chat-composer-box:focus-within { border-color: var(--accent-8); box-shadow: 0 0 0 3px var(--accent-a3); }
#chat-input {
  flex: 1;
  border: none;
  outline: none;
  resize: none;
  background: transparent;
  font: inherit;
  font-size: 15px;
  line-height: 1.4;
  padding: 7px 4px;
  min-height: 22px;
  max-height: 160px;
  field-sizing: content;
  color: var(--gray-12);
}
#chat-input::placeholder { color: var(--gray-9); }
.chat-banner {
  display: flex;
  align-items: center;
  gap: 10px;
  padding: 6px 10px;
  margin-bottom: 8px;
  border-left: 3px solid var(--accent-9);
  background: var(--accent-a2);
  border-radius: 8px;
}
.chat-pending { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 8px; }
.chat-pending-item {
  position: relative;
  display: inline-flex;
  align-items: center;
  gap: 6px;
  border: 1px solid var(--gray-a5);
  background: var(--color-panel-solid);
  border-radius: 10px;
  padding: 4px 6px;
  font-size: 13px;
  max-width: 220px;
}
.chat-pending-thumb { width: 48px; height: 48px; object-fit: cover; border-radius: 8px; background: var(--gray-a3); }
.chat-empty { flex: 1; display: flex; align-items: center; justify-content: center; padding: 32px; text-align: center; }
.chat-empty-icon {
  width: 64px; height: 64px; border-radius: 20px;
  background: linear-gradient(135deg, var(--accent-a4), var(--violet-a4));
  color: var(--accent-11);
}
.chat-hidden { display: none !important; }

@media (max-width: 767px) {
  .chat-shell { border: none; }
  .chat-sidebar { width: 100%; border-right: none; }
  .chat-shell[data-view="conversation"] .chat-sidebar { display: none; }
  .chat-shell[data-view="list"] .chat-main { display: none; }
  .chat-back { display: inline-flex !important; }
  .chat-scroll { padding: 10px 10px 6px; }
  .chat-col { max-width: 82%; }
  .chat-composer { padding: 6px 8px 10px; }
  .chat-header { padding: 8px 10px; }
  .chat-attach-img { max-width: 200px; }
}
"""

# window.utoolChat: keeps the reading position when older messages are prepended, sticks
# to the bottom unless the reader scrolled up (then shows the "new messages" button),
# sends on Enter (Shift+Enter is a newline), and marks read when the tab becomes visible.
CHAT_JS = r"""
(function () {
  const byId = (id) => document.getElementById(id);
  if (!window.utoolChat) {
    const S = { el: null, observer: null, stick: true, pending: null, lastKey: null };
    const nearBottom = (e) => e.scrollHeight - e.scrollTop - e.clientHeight < 96;
    const showNew = (show) => { const b = byId('chat-new-below'); if (b) b.dataset.show = show ? '1' : '0'; };
    const lastKey = (e) => { const rows = e.querySelectorAll('[data-msg-key]'); return rows.length ? rows[rows.length - 1].dataset.msgKey : null; };
    const api = {
      state: S,
      scrollToBottom(force) {
        const e = byId('chat-scroll');
        if (!e) return;
        if (force || S.stick) { e.scrollTop = e.scrollHeight; S.stick = true; showNew(false); }
      },
      restoreAfterPrepend() {
        // The page is in; if the reader is still at the very top, fetch the next one.
        setTimeout(() => api.maybeLoadOlder(), 50);
      },
      clearInput() { const t = byId('chat-input'); if (t) { t.value = ''; t.focus(); } },
      setInput(v) { const t = byId('chat-input'); if (t) { t.value = v; t.focus(); t.setSelectionRange(v.length, v.length); } },
      focusInput() { const t = byId('chat-input'); if (t) t.focus(); },
      maybeLoadOlder() {
        const e = S.el;
        if (!e || e.dataset.hasOlder !== '1' || e.dataset.loading === '1' || S.pending) return;
        if (e.scrollTop > 120) return;
        // Anchor: the first message in view and its distance from the top of the viewport.
        const top = e.getBoundingClientRect().top;
        const rows = Array.from(e.querySelectorAll('[data-msg-key]'));
        const anchor = rows.find((r) => r.getBoundingClientRect().bottom > top) || rows[0];
        S.pending = anchor ? {
          key: anchor.dataset.msgKey, offset: anchor.getBoundingClientRect().top - top, firstKey: rows[0].dataset.msgKey,
        } : null;
        const mine = S.pending;  // never stay pinned if the page does not come
        if (mine) setTimeout(() => { if (S.pending === mine) S.pending = null; }, 8000);
        const b = byId('chat-load-older');
        if (b) b.click();
      },
      keepAnchor() {
        const e = S.el, p = S.pending;
        const row = p && e.querySelector('[data-msg-key="' + CSS.escape(p.key) + '"]');
        if (!row) return;
        e.scrollTop += row.getBoundingClientRect().top - e.getBoundingClientRect().top - p.offset;
      },
      onMutate() {
        const e = S.el;
        if (!e) return;
        const key = lastKey(e);
        if (S.pending) {
          api.keepAnchor();
          // The older rows are in: stop pinning, so the reader may scroll up again at once.
          const first = e.querySelector('[data-msg-key]');
          if (first && first.dataset.msgKey !== S.pending.firstKey) S.pending = null;
        } else if (S.stick) {
          e.scrollTop = e.scrollHeight;
        } else if (key && key !== S.lastKey && S.lastKey !== null) {
          showNew(true);
        }
        S.lastKey = key;
      },
      attach() {
        const e = byId('chat-scroll');
        if (!e || e === S.el) return;
        if (S.observer) S.observer.disconnect();
        S.el = e; S.stick = true; S.pending = null; S.lastKey = lastKey(e);
        e.scrollTop = e.scrollHeight;
        e.addEventListener('scroll', () => {
          S.stick = nearBottom(e);
          if (S.stick) showNew(false);
          api.maybeLoadOlder();
        }, { passive: true });
        S.observer = new MutationObserver(() => api.onMutate());
        S.observer.observe(e, { childList: true, subtree: true, characterData: true });
        // Images change the height after they load: keep the bottom in view.
        e.addEventListener('load', () => { if (S.stick) e.scrollTop = e.scrollHeight; }, true);
      },
    };
    window.utoolChat = api;
    document.addEventListener('keydown', (ev) => {
      const t = ev.target;
      if (!t || t.id !== 'chat-input') return;
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        const hasAttachments = !!document.querySelector('[data-testid="pending-attachment"]');
        if ((t.value.trim() || hasAttachments) && t.form) t.form.requestSubmit();
      } else if (ev.key === 'Escape') {
        const c = byId('chat-cancel-compose');
        if (c) c.click();
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') { const b = byId('chat-mark-read'); if (b) b.click(); }
    });
    setInterval(() => api.attach(), 150);
  }
  window.utoolChat.attach();
})();
"""

TIMEZONE_JS = "Intl.DateTimeFormat().resolvedOptions().timeZone || ''"
