/* window.utool.jump: search and "open at a message" in the browser (search-ui).
 *
 * - shortcuts: Ctrl+K / Cmd+K anywhere, "/" when not typing in a field, focus the message
 *   search (#chat-search-input; at phone width the search screen opens first, through the
 *   hidden #chat-search-open button);
 * - the search field's keys: ArrowDown / ArrowUp move through the results (the field keeps
 *   the focus, aria-activedescendant follows), Enter opens the active result (the first if
 *   none is), Escape closes the search (#chat-search-close);
 * - reveal(messageId): after MessagesState.open_at_message loaded the page around a
 *   message, scroll it to the middle of #chat-scroll; its highlight (the state's) ends
 *   2.5 s later (#chat-jump-done);
 * - newer history: in a window that is not at the latest (#chat-scroll data-has-newer="1"),
 *   scrolling near the bottom asks for the next page (#chat-load-newer);
 * - a reply's quote opens with Enter or Space as well as a click.
 *
 * Loaded by the chat page on every mount; idempotent (one install, a poll re-attaches it to
 * the current #chat-scroll). It holds no user data.
 */
(function () {
  window.utool = window.utool || {};
  if (window.utool.jump) { window.utool.jump.attach(); return; }
  const byId = (id) => document.getElementById(id);
  const J = { el: null, revealing: null, revealed: null, lastRequest: 0, highlightTimer: null };
  const visible = (el) => !!el && el.getClientRects().length > 0;
  const results = () => Array.from(document.querySelectorAll('[data-testid="search-result"]'));
  const isField = (t) => !!t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  const chatHelper = () => window.utoolChat && window.utoolChat.state;

  const api = {
    state: J,
    focusSearch() {
      // The field may appear only once the state's update is drawn (the phone's search screen).
      const deadline = Date.now() + 3000;
      const step = () => {
        const input = byId('chat-search-input');
        if (visible(input)) { input.focus(); input.select(); return; }
        if (Date.now() < deadline) setTimeout(step, 30);
      };
      step();
    },
    openSearch() {
      const input = byId('chat-search-input');
      if (visible(input)) { input.focus(); input.select(); return; }
      const open = byId('chat-search-open');
      if (open) open.click();
    },
    setActive(index) {
      const rows = results();
      const input = byId('chat-search-input');
      rows.forEach((row, i) => {
        row.dataset.active = i === index ? 'true' : 'false';
        row.setAttribute('aria-selected', i === index ? 'true' : 'false');
      });
      const row = rows[index];
      if (row) {
        row.scrollIntoView({ block: 'nearest' });
        if (input) input.setAttribute('aria-activedescendant', row.id);
      } else if (input) {
        input.removeAttribute('aria-activedescendant');
      }
    },
    activeIndex() { return results().findIndex((row) => row.dataset.active === 'true'); },
    onSearchKey(ev) {
      const rows = results();
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        if (!rows.length) return;
        ev.preventDefault();
        const at = api.activeIndex();
        const next = ev.key === 'ArrowDown' ? Math.min(rows.length - 1, at + 1) : Math.max(0, at - 1);
        api.setActive(next);
      } else if (ev.key === 'Enter' && !ev.isComposing) {
        if (!rows.length) return;
        ev.preventDefault();
        const at = api.activeIndex();
        rows[at >= 0 ? at : 0].click();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.target.blur();
        const close = byId('chat-search-close');
        if (close) close.click();
      }
    },
    reveal(messageId) {
      // Hold the view where it is (chat.js would keep the bottom in view) until the row is in.
      const chat = chatHelper();
      if (chat) chat.stick = false;
      const mine = J.revealing = { messageId };
      const deadline = Date.now() + 8000;
      const step = () => {
        if (J.revealing !== mine) return;
        const e = byId('chat-scroll');
        const row = e && e.querySelector('[data-message-id="' + CSS.escape(messageId) + '"]');
        const attached = chatHelper() && window.utoolChat.state.el === e;
        if (!row || !attached) {
          if (Date.now() < deadline) setTimeout(step, 40); else J.revealing = null;
          return;
        }
        const S = window.utoolChat.state;
        S.stick = false;
        const box = e.getBoundingClientRect(), r = row.getBoundingClientRect();
        e.scrollTop += (r.top - box.top) - Math.max(0, (e.clientHeight - r.height) / 2);
        // An older page on its way keeps this row in place, not the one it was asked from.
        if (S.pending) S.pending = { ...S.pending, key: row.dataset.msgKey, offset: row.getBoundingClientRect().top - box.top };
        J.revealed = messageId;
        // The row's data-jump comes from the state (MessagesState.jump_highlight): end it.
        clearTimeout(J.highlightTimer);
        J.highlightTimer = setTimeout(() => { const done = byId('chat-jump-done'); if (done) done.click(); }, 2500);
        // Let the scroll settle before paging may start from the new position.
        setTimeout(() => { if (J.revealing === mine) J.revealing = null; api.maybeLoadNewer(); }, 300);
      };
      step();
    },
    maybeLoadNewer() {
      const e = J.el;
      if (!e || J.revealing || e.dataset.hasNewer !== '1' || e.dataset.loadingNewer === '1') return;
      // The page around a message is drawn before reveal() has scrolled to it: wait for it.
      if (e.dataset.jumpTo && e.dataset.jumpTo !== J.revealed) return;
      if (e.scrollHeight - e.scrollTop - e.clientHeight > 160) return;
      if (Date.now() - J.lastRequest < 400) return;  // one request per page, not per scroll event
      J.lastRequest = Date.now();
      const b = byId('chat-load-newer');
      if (b) b.click();
    },
    afterNewer() {
      J.lastRequest = 0;
      setTimeout(() => {
        // The rows appended were history, not new messages: no "New messages" button for them.
        const below = byId('chat-new-below');
        if (below) below.dataset.show = '0';
        api.maybeLoadNewer();
      }, 80);
    },
    attach() {
      const e = byId('chat-scroll');
      if (!e || e === J.el) return;
      J.el = e;
      e.addEventListener('scroll', () => {
        const chat = chatHelper();
        // Not at the latest: the bottom of the window is not the bottom of the conversation.
        if (chat && e.dataset.hasNewer === '1') chat.stick = false;
        api.maybeLoadNewer();
      }, { passive: true });
    },
  };
  window.utool.jump = api;

  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    if (t && t.id === 'chat-search-input') { api.onSearchKey(ev); return; }
    const shortcut = (ev.key === 'k' || ev.key === 'K') && (ev.ctrlKey || ev.metaKey) && !ev.altKey;
    const slash = ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !isField(t);
    if ((shortcut || slash) && (byId('chat-search-input') || byId('chat-search-open'))) {
      ev.preventDefault();
      api.openSearch();
      return;
    }
    if ((ev.key === 'Enter' || ev.key === ' ') && t && t.dataset && t.dataset.testid === 'reply-quote') {
      ev.preventDefault();
      t.click();
    }
  });
  // A new query brings new results: none is active until the arrows pick one.
  document.addEventListener('input', (ev) => { if (ev.target && ev.target.id === 'chat-search-input') api.setActive(-1); });
  setInterval(() => api.attach(), 200);
  api.attach();
})();
