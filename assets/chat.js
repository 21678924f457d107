/* window.utoolChat: the chat page's browser helper (utool_chat/components/chat/chat_page.py).
 *
 * - keeps the message list's scroll position: at the bottom while the reader is there, a
 *   "New messages" button when they scrolled up, the reading position when older history
 *   is prepended (it asks for that page by clicking the hidden #chat-load-older button);
 * - the composer's keys: Enter sends, Shift+Enter is a new line, Escape cancels a reply/edit;
 * - marks the open conversation read when the tab becomes visible (#chat-mark-read);
 * - message actions are ONE tab stop for the whole list (roving tabindex): Tab reaches the
 *   toolbar of the newest message (or the one used last), Left/Right move between its
 *   buttons, Up/Down to the same button of the previous/next message, Home/End to the
 *   first/last message; the focused toolbar is visible (chat.css).
 *
 * Loaded by the chat page each time it mounts; idempotent: the first run installs the
 * helper and its document listeners, every run (and a 150 ms poll) attaches it to the
 * current #chat-scroll. It holds no user data.
 */
(function () {
  const byId = (id) => document.getElementById(id);
  if (!window.utoolChat) {
    const S = { el: null, observer: null, stick: true, pending: null, lastKey: null };
    const nearBottom = (e) => e.scrollHeight - e.scrollTop - e.clientHeight < 96;
    const showNew = (show) => { const b = byId('chat-new-below'); if (b) b.dataset.show = show ? '1' : '0'; };
    const lastKey = (e) => { const rows = e.querySelectorAll('[data-msg-key]'); return rows.length ? rows[rows.length - 1].dataset.msgKey : null; };
    const ROVE = '#chat-scroll .chat-actions button';
    const rove = (target) => {
      const buttons = Array.from(document.querySelectorAll(ROVE));
      if (!buttons.length) return;
      let current = target || buttons.find((b) => b.dataset.rove === '1');
      if (!current) {
        const toolbars = document.querySelectorAll('#chat-scroll .chat-actions');
        current = toolbars[toolbars.length - 1].querySelector('button');
      }
      buttons.forEach((b) => {
        const mine = b === current;
        if (b.getAttribute('tabindex') !== (mine ? '0' : '-1')) b.setAttribute('tabindex', mine ? '0' : '-1');
        if (b.dataset.rove !== (mine ? '1' : '0')) b.dataset.rove = mine ? '1' : '0';
      });
    };
    const moveFocus = (ev) => {
      const t = ev.target;
      const bar = t.closest('.chat-actions');
      const inBar = Array.from(bar.querySelectorAll('button'));
      const bars = Array.from(document.querySelectorAll('#chat-scroll .chat-actions'));
      const i = inBar.indexOf(t), row = bars.indexOf(bar);
      const at = (r) => { const bs = bars[r].querySelectorAll('button'); return bs[Math.min(i, bs.length - 1)]; };
      let next = null;
      if (ev.key === 'ArrowRight') next = inBar[Math.min(i + 1, inBar.length - 1)];
      else if (ev.key === 'ArrowLeft') next = inBar[Math.max(i - 1, 0)];
      else if (ev.key === 'ArrowDown' && row < bars.length - 1) next = at(row + 1);
      else if (ev.key === 'ArrowUp' && row > 0) next = at(row - 1);
      else if (ev.key === 'Home') next = at(0);
      else if (ev.key === 'End') next = at(bars.length - 1);
      else return;
      ev.preventDefault();
      if (next) { rove(next); next.focus(); next.scrollIntoView({ block: 'nearest' }); }
    };
    const api = {
      state: S,
      rove,
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
        rove();
      },
      attach() {
        const e = byId('chat-scroll');
        if (!e || e === S.el) return;
        if (S.observer) S.observer.disconnect();
        S.el = e; S.stick = true; S.pending = null; S.lastKey = lastKey(e);
        e.scrollTop = e.scrollHeight;
        e.addEventListener('scroll', () => {
          // A window that is not at the latest message (search-ui's jump) never sticks.
          S.stick = nearBottom(e) && e.dataset.hasNewer !== '1';
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
    document.addEventListener('focusin', (ev) => {
      if (ev.target && ev.target.matches && ev.target.matches(ROVE)) rove(ev.target);
    });
    document.addEventListener('keydown', (ev) => {
      const t = ev.target;
      if (t && t.matches && t.matches(ROVE)) { moveFocus(ev); return; }
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
    setInterval(() => { api.attach(); rove(); }, 150);
  }
  window.utoolChat.attach();
})();
