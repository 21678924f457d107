/* window.utool.outbox: the browser's outbox, drafts and connection banner (web-client team).
 *
 * Sending never waits for the server. On Enter / Send (not while editing a message) the
 * composer's text goes through `utool.composeHooks` (functions (text, conversationId) =>
 * text, contract 2), takes the ready uploads (`utool.attachments.takeReady`, contract 3),
 * gets ONE tempId, is stored in localStorage (per user) and drawn at once as a bubble —
 * "Sending…" online, "Waiting" offline — before any round trip. Entries are delivered one
 * at a time, in order, through the hidden #outbox-door input (OutboxState.deliver_entry);
 * the server answers with `utool.outbox.settled(tempId, outcome, retryAfter)`:
 *   sent        → the entry leaves the outbox (the server's copy replaced the bubble);
 *   failed      → refused: it leaves the outbox, the server shows it failed (Retry/Discard);
 *   unavailable → an outage (contract 4): it stays, and is retried after retryAfter.
 * An entry that gets no answer (the connection dropped) is delivered again with the SAME
 * tempId, so the server stores it once. Entries survive a reload and are sent after it.
 *
 * Offline (`navigator.onLine` false, or Reflex's socket failing to connect) the
 * #offline-banner says "Offline — reconnecting…" and nothing is delivered; back online, the
 * tab catches up (#catch-up-door: ChatListenerState.catch_up) and the outbox drains.
 *
 * Drafts: the text typed for a conversation is kept per conversation (localStorage, per
 * user), put back when that conversation is opened again (also after a reload), removed
 * when it is sent or cleared. Opening a conversation focuses the message box.
 *
 * Idempotent (loaded on every mount); holds only the user's unsent messages and drafts.
 */
(function () {
  window.utool = window.utool || {};
  window.utool.composeHooks = window.utool.composeHooks || [];
  if (window.utool.outbox) { window.utool.outbox.tick(); return; }

  const ANSWER_TIMEOUT_MS = 15000; // no settled() by then: deliver again (same tempId)
  const byId = (id) => document.getElementById(id);
  const S = { inFlight: null, offline: false, wasOffline: false, cid: null, input: null, timer: null };

  const userId = () => { const e = document.querySelector('[data-user-id]'); return (e && e.dataset.userId) || ''; };
  const hydrated = () => !!document.querySelector('[data-testid=app-hydrated]');
  const openCid = () => { const m = window.location.pathname.match(/^\/chat\/([^/?#]+)/); return m ? decodeURIComponent(m[1]) : ''; };
  const load = (kind) => { try { return JSON.parse(localStorage.getItem(`utool.${kind}.${userId()}`) || 'null'); } catch (e) { return null; } };
  const save = (kind, value) => { try { localStorage.setItem(`utool.${kind}.${userId()}`, JSON.stringify(value)); } catch (e) { /* full: keep going */ } };
  const entries = () => (Array.isArray(load('outbox')) ? load('outbox') : []);
  const newTempId = () => 'tmp-' + (crypto.randomUUID ? crypto.randomUUID().replace(/-/g, '') : Date.now() + '-' + Math.random().toString(16).slice(2));

  // Hand a value to a Reflex event through a hidden input's onChange (React listens to
  // 'input' events; the native setter makes React see a new value).
  function fire(id, value) {
    const el = byId(id);
    if (!el) return false;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    return true;
  }

  function notice(text) {
    const n = byId('composer-notice');
    if (!n) return;
    n.textContent = text;
    clearTimeout(n._clear);
    n._clear = setTimeout(() => { n.textContent = ''; }, 4000);
  }

  // ----- drafts ------------------------------------------------------------------------
  const drafts = {
    get(cid) { const d = load('drafts') || {}; return typeof d[cid] === 'string' ? d[cid] : ''; },
    set(cid, text) {
      if (!cid || !userId()) return;
      const d = load('drafts') || {};
      if (text && text.trim()) d[cid] = text; else delete d[cid];
      save('drafts', d);
    },
  };
  const editing = () => { const f = byId('chat-form'); return !!f && f.dataset.editing === '1'; };

  // ----- the bubbles -----------------------------------------------------------------
  function bubble(entry) {
    const row = document.createElement('div');
    row.className = 'chat-row outbox-row';
    row.dataset.own = 'true';
    row.dataset.last = 'true';
    row.setAttribute('data-testid', 'outbox-message');
    row.dataset.tempId = entry.tempId;
    const col = document.createElement('div'); col.className = 'chat-col';
    const b = document.createElement('div'); b.className = 'chat-bubble';
    const body = document.createElement('div');
    (entry.preview || []).forEach((name) => {
      const chip = document.createElement('div'); chip.className = 'chat-file-chip'; chip.textContent = '📎 ' + name; body.appendChild(chip);
    });
    if (entry.content) {
      const t = document.createElement('span'); t.className = 'chat-text'; t.setAttribute('data-testid', 'message-text');
      t.textContent = entry.content; // user text is text, never markup
      body.appendChild(t);
    }
    const meta = document.createElement('span'); meta.className = 'chat-meta';
    const st = document.createElement('span'); st.setAttribute('data-testid', 'message-status');
    meta.appendChild(st); body.appendChild(meta); b.appendChild(body); col.appendChild(b); row.appendChild(col);
    return row;
  }

  function render() {
    const box = byId('outbox-pending');
    if (!box) return;
    const cid = openCid();
    // A bubble the server already draws (its optimistic copy, then the stored message) is ours no more.
    const shown = (t) => !!document.querySelector(`#chat-scroll [data-msg-key="${CSS.escape(t)}"]`);
    const want = entries().filter((e) => e.conversationId === cid && !shown(e.tempId));
    const wantIds = new Set(want.map((e) => e.tempId));
    Array.from(box.children).forEach((c) => { if (!wantIds.has(c.dataset.tempId)) c.remove(); });
    want.forEach((e) => {
      let row = box.querySelector(`[data-temp-id="${CSS.escape(e.tempId)}"]`);
      if (!row) { row = bubble(e); box.appendChild(row); if (window.utoolChat) window.utoolChat.scrollToBottom(true); }
      const status = S.offline || (e.retryAt && e.retryAt > Date.now()) ? 'waiting' : 'sending';
      if (row.dataset.status !== status) {
        row.dataset.status = status;
        const st = row.querySelector('[data-testid=message-status]');
        st.dataset.status = status;
        st.textContent = status === 'waiting' ? 'Waiting' : 'Sending…';
      }
    });
  }

  // ----- delivery ----------------------------------------------------------------------
  function pump() {
    if (S.inFlight || S.offline || !hydrated() || !userId()) return;
    const now = Date.now();
    const list = entries();
    const next = list[0];
    if (!next) return;
    if (next.retryAt && next.retryAt > now) { clearTimeout(S.timer); S.timer = setTimeout(pump, next.retryAt - now); return; }
    const { preview, retryAt, ...wire } = next;
    if (!fire('outbox-door', JSON.stringify(wire))) return;
    const mine = { tempId: next.tempId };
    S.inFlight = mine;
    setTimeout(() => { if (S.inFlight === mine) { S.inFlight = null; pump(); } }, ANSWER_TIMEOUT_MS);
  }

  function settled(tempId, outcome, retryAfter) {
    if (S.inFlight && S.inFlight.tempId === tempId) S.inFlight = null;
    let list = entries();
    if (outcome === 'unavailable') {
      list = list.map((e) => (e.tempId === tempId ? { ...e, retryAt: Date.now() + 1000 * Math.max(1, Number(retryAfter) || 2) } : e));
    } else {
      list = list.filter((e) => e.tempId !== tempId);
    }
    save('outbox', list);
    render();
    pump();
  }

  function compose() {
    const input = byId('chat-input');
    const cid = openCid();
    if (!input || !cid || !userId()) return;
    let text = input.value;
    for (const hook of window.utool.composeHooks) {
      try { const out = hook(text, cid); if (typeof out === 'string') text = out; } catch (err) { console.error('compose hook', err); }
    }
    // Link chips (the composer's pending links; uploads are utool.attachments' own items).
    const hasLinks = !!document.querySelector('[data-testid="pending-attachment"]:not([data-kind="upload"])');
    const pendingUploads = window.utool.attachments && window.utool.attachments.takeReady;
    let items = [];
    if (!text.trim() && !hasLinks && !pendingUploads) return;
    if (pendingUploads) {
      const ready = window.utool.attachments.takeReady(cid) || {};
      if (ready.busy) { if (!byId('chat-uploads')) notice('Wait for the upload to finish'); return; }
      items = ready.items || [];
    }
    if (!text.trim() && !hasLinks && !items.length) return;
    const form = byId('chat-form');
    const entry = {
      tempId: newTempId(),
      conversationId: cid,
      content: text,
      attachments: items.map((i) => ({ uploadId: i.uploadId })),
      replyTo: (form && form.dataset.replyTo) || null,
      createdAt: new Date().toISOString(),
      preview: items.map((i) => i.name),
    };
    save('outbox', [...entries(), entry]);
    input.value = '';
    drafts.set(cid, '');
    S.typingAt = 0; // sending ended typing: the next keystroke announces it again
    input.focus();
    // The composer's server side: the reply target and pending links go with this entry
    // (only when there are some: every event is a round trip before the delivery).
    if (entry.replyTo || hasLinks) fire('composed-door', entry.tempId);
    render();
    pump();
  }

  // ----- connection --------------------------------------------------------------------
  function checkConnection() {
    const banner = byId('offline-banner');
    const socketDown = !!banner && banner.dataset.socketDown === '1';
    const offline = !navigator.onLine || socketDown;
    if (banner && banner.dataset.show !== (offline ? '1' : '0')) banner.dataset.show = offline ? '1' : '0';
    if (offline !== S.offline) {
      S.offline = offline;
      if (offline) { S.wasOffline = true; S.inFlight = null; } else if (S.wasOffline && hydrated()) {
        S.wasOffline = false;
        const door = byId('catch-up-door');
        if (door) door.click();
      }
      render();
    }
    if (!offline) pump();
  }

  // ----- the composer box ----------------------------------------------------------------
  function attachComposer() {
    const input = byId('chat-input');
    const cid = openCid();
    if (!input || !userId()) { S.cid = null; S.input = null; return; }
    if (input === S.input && cid === S.cid) return;
    S.input = input; S.cid = cid; S.typingAt = 0;
    // The same box serves every conversation: put back this one's draft, not the last one's.
    if (!editing()) input.value = drafts.get(cid);
    if (cid) input.focus();
  }

  // Typing: announced at the first keystroke (also the first after a send), then again every
  // half typing TTL while keystrokes go on (#typing-door: ComposerState.typing), so the
  // server's typing state never lapses mid-sentence.
  function announceTyping() {
    const door = byId('typing-door');
    if (!door) return;
    const every = Number(door.dataset.refreshMs) || 2500;
    if (Date.now() - (S.typingAt || 0) < every) return;
    S.typingAt = Date.now();
    door.click();
  }

  document.addEventListener('input', (ev) => {
    const t = ev.target;
    if (!t || t.id !== 'chat-input' || editing()) return;
    drafts.set(openCid(), t.value);
    if (t.value.trim()) announceTyping();
  });
  // Enter (chat.js requests the submit) and the Send button: a new message or reply goes
  // to the outbox; an edit still goes to the server form (ComposerState.post_new_message).
  document.addEventListener('submit', (ev) => {
    const f = ev.target;
    if (!f || f.id !== 'chat-form' || editing()) return;
    ev.preventDefault();
    ev.stopImmediatePropagation(); // the outbox takes the ready uploads itself (contract 3)
    compose();
  }, true);
  window.addEventListener('online', checkConnection);
  window.addEventListener('offline', checkConnection);
  window.addEventListener('storage', (ev) => { if (ev.key && ev.key.startsWith('utool.outbox.')) render(); });

  function tick() { checkConnection(); attachComposer(); render(); }
  window.utool.outbox = { compose, settled, pump, render, tick, drafts, entries, state: S };
  setInterval(tick, 150);
  tick();
})();
