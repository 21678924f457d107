/* window.utool.mentions: @-mention autocomplete in the composer (#chat-input).
 *
 * Typing "@" (at the start or after a space) offers the open conversation's members, read
 * from #mention-members [data-member-id] (components/chat/mentions.py); arrow keys move,
 * Enter / Tab / click pick, Escape closes. A pick inserts "@Display Name " into the box and
 * remembers the name; at compose time the hook registered in utool.composeHooks (contract:
 * `(text, conversationId) => text`) turns each remembered "@Display Name" into "<@userId>",
 * the rename-proof form the server stores. Until the browser outbox applies the hooks
 * itself, a capture listener on the composer form's submit applies them to the box just
 * before the form is read (the conversion is idempotent, so both may run).
 *
 * Idempotent (loaded on every mount). Holds only the names picked in the current draft.
 */
(function () {
  window.utool = window.utool || {};
  window.utool.composeHooks = window.utool.composeHooks || [];
  if (window.utool.mentions) return;
  const byId = (id) => document.getElementById(id);
  const S = { open: false, items: [], active: 0, start: -1, picked: new Map(), box: null };
  const TRIGGER = /(^|\s)@([^\s@<>]{0,32})$/;

  function members() {
    return Array.from(document.querySelectorAll('#mention-members [data-member-id]')).map((el) => ({
      id: el.dataset.memberId, name: el.dataset.name || '', username: el.dataset.username || '',
    }));
  }

  function popup() {
    let el = byId('mention-popup');
    if (!el) {
      el = document.createElement('div');
      el.id = 'mention-popup';
      el.className = 'chat-mention-popup';
      el.setAttribute('role', 'listbox');
      el.setAttribute('data-testid', 'mention-popup');
      el.addEventListener('mousedown', (ev) => ev.preventDefault()); // keep the box focused
      document.body.appendChild(el);
    }
    return el;
  }

  function close() {
    S.open = false; S.items = []; S.start = -1;
    const el = byId('mention-popup');
    if (el) el.hidden = true;
    if (S.box) S.box.removeAttribute('aria-activedescendant');
  }

  function render() {
    const el = popup();
    el.textContent = '';
    S.items.forEach((m, i) => {
      const row = document.createElement('div');
      row.id = 'mention-option-' + i;
      row.className = 'chat-mention-option';
      row.setAttribute('role', 'option');
      row.setAttribute('data-testid', 'mention-option');
      row.setAttribute('aria-selected', i === S.active ? 'true' : 'false');
      const name = document.createElement('span'); name.textContent = m.name;
      const user = document.createElement('span'); user.className = 'chat-mention-username'; user.textContent = '@' + m.username;
      row.append(name, user);
      row.addEventListener('click', () => pick(i));
      el.appendChild(row);
    });
    const box = S.box, rect = box.getBoundingClientRect();
    el.style.left = Math.max(8, rect.left) + 'px';
    el.style.bottom = (window.innerHeight - rect.top + 6) + 'px';
    el.style.width = Math.min(320, Math.max(220, rect.width)) + 'px';
    el.hidden = false;
    box.setAttribute('aria-activedescendant', 'mention-option-' + S.active);
  }

  function update(box) {
    S.box = box;
    const before = box.value.slice(0, box.selectionStart);
    const m = TRIGGER.exec(before);
    if (!m) { close(); return; }
    const query = m[2].toLowerCase();
    const items = members().filter((p) => !query || p.name.toLowerCase().includes(query) || p.username.toLowerCase().includes(query)).slice(0, 8);
    if (!items.length) { close(); return; }
    S.items = items; S.start = before.length - m[2].length - 1; S.open = true;
    if (S.active >= items.length) S.active = 0;
    render();
  }

  function pick(i) {
    const box = S.box, m = S.items[i];
    if (!box || !m) return;
    const end = box.selectionStart;
    const insert = '@' + m.name + ' ';
    box.value = box.value.slice(0, S.start) + insert + box.value.slice(end);
    const caret = S.start + insert.length;
    box.setSelectionRange(caret, caret);
    S.picked.set(m.name, m.id);
    close();
    box.focus();
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }

  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  /* The compose hook: "@Display Name" picked from the list → "<@userId>". */
  function toIds(text) {
    if (!S.picked.size || typeof text !== 'string') return text;
    const names = Array.from(S.picked.keys()).sort((a, b) => b.length - a.length);
    let out = text;
    for (const name of names) {
      const re = new RegExp('(^|[^\\w@])@' + escapeRe(name) + '(?![\\w])', 'g');
      out = out.replace(re, (all, lead) => lead + '<@' + S.picked.get(name) + '>');
    }
    return out;
  }

  function applyHooks(text, conversationId) {
    return window.utool.composeHooks.reduce((t, hook) => {
      try { return hook(t, conversationId); } catch (e) { return t; }
    }, text);
  }

  document.addEventListener('input', (ev) => { if (ev.target && ev.target.id === 'chat-input') update(ev.target); }, true);
  document.addEventListener('click', (ev) => { if (ev.target && ev.target.id === 'chat-input') update(ev.target); else if (!(ev.target.closest && ev.target.closest('#mention-popup'))) close(); }, true);
  // Capture phase on the document: before chat.js's Enter-sends and Escape-cancels.
  document.addEventListener('keydown', (ev) => {
    if (!S.open || !ev.target || ev.target.id !== 'chat-input') return;
    const stop = () => { ev.preventDefault(); ev.stopImmediatePropagation(); };
    if (ev.key === 'ArrowDown') { stop(); S.active = (S.active + 1) % S.items.length; render(); }
    else if (ev.key === 'ArrowUp') { stop(); S.active = (S.active - 1 + S.items.length) % S.items.length; render(); }
    else if ((ev.key === 'Enter' && !ev.shiftKey) || ev.key === 'Tab') { stop(); pick(S.active); }
    else if (ev.key === 'Escape') { stop(); close(); }
  }, true);
  // Until the outbox applies the compose hooks, the form's submit does (before it is read).
  document.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (!form || form.id !== 'chat-form') return;
    const box = form.querySelector('#chat-input');
    if (!box) return;
    const cid = (window.location.pathname.match(/\/chat\/([^/]+)/) || [])[1] || '';
    const text = applyHooks(box.value, cid);
    if (text !== box.value) box.value = text;
    S.picked.clear();
    close();
  }, true);

  window.utool.composeHooks.push(toIds);
  window.utool.mentions = { toIds, applyHooks, close, state: S };
})();
