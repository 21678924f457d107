/* window.utool.notify: notifications, the unread count in the title and favicon, and this
 * tab's presence reports (utool_chat/components/notifications.py loads it on every page).
 *
 * - request(): asks the browser's permission; called from a click on an element with
 *   [data-notify-enable] (a user gesture, which browsers require). <html data-notify-
 *   permission> mirrors the permission so the "Enable notifications" banner shows only
 *   while it is undecided.
 * - incoming({title, body, conversationId, sound}): the live listener's call for a new
 *   message that should notify (the server decided: not one's own, not a muted chat unless
 *   it mentions one). Shown only while this tab is hidden; a click focuses the tab and
 *   opens the conversation. `sound` plays a short tone (the notificationSound setting).
 * - the title ("(3) uTool Chat") and a favicon badge follow #utool-unread[data-count].
 * - presence: "away" when the tab is hidden or idle #presence-reporter[data-idle-seconds],
 *   "online" again on return, through its hidden buttons.
 *
 * Idempotent (loaded on every mount); holds no user data beyond the last count.
 */
(function () {
  window.utool = window.utool || {};
  if (window.utool.notify) return;
  const byId = (id) => document.getElementById(id);
  const supported = typeof window.Notification === 'function';
  const S = { count: -1, icon: null, baseIcon: null, lastInput: Date.now(), reported: null, shown: [] };

  function permission() { return supported ? Notification.permission : 'unsupported'; }
  function mirror() { document.documentElement.dataset.notifyPermission = permission(); }

  function request() {
    if (!supported) return Promise.resolve('unsupported');
    return Promise.resolve(Notification.requestPermission()).then((p) => { mirror(); return p; }, () => { mirror(); return permission(); });
  }

  function beep() {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      const ctx = new Ctx();
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.06;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.15);
      osc.onended = () => ctx.close();
    } catch (e) { /* no audio: the notification still shows */ }
  }

  function openConversation(cid) {
    const row = document.querySelector('[data-testid=conversation-item][data-conversation-id="' + CSS.escape(cid) + '"]');
    if (row) row.click(); else window.location.assign('/chat/' + encodeURIComponent(cid));
  }

  function incoming(p) {
    if (!p || document.visibilityState === 'visible') return false;
    if (p.sound) beep();
    if (permission() !== 'granted') return false;
    const n = new Notification(String(p.title || 'uTool Chat'), {
      body: String(p.body || ''), tag: String(p.conversationId || ''), icon: '/favicon.ico',
    });
    n.onclick = () => { window.focus(); if (p.conversationId) openConversation(String(p.conversationId)); n.close(); };
    S.shown.push(n);
    return true;
  }

  // ----- the title and the favicon badge ---------------------------------------------
  function faviconLink() {
    let link = document.querySelector('link[rel~="icon"]');
    if (!link) { link = document.createElement('link'); link.rel = 'icon'; link.href = '/favicon.ico'; document.head.appendChild(link); }
    if (S.baseIcon === null) S.baseIcon = link.href;
    return link;
  }

  function drawBadge(count) {
    const link = faviconLink();
    if (!count) { link.href = S.baseIcon; link.dataset.badge = '0'; return; }
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 32;
    const g = canvas.getContext('2d');
    const finish = (img) => {
      if (img) { try { g.drawImage(img, 0, 0, 32, 32); } catch (e) { /* tainted or broken: badge only */ } }
      g.fillStyle = '#e5484d';
      g.beginPath(); g.arc(22, 10, 10, 0, 2 * Math.PI); g.fill();
      g.fillStyle = '#fff'; g.font = 'bold 13px sans-serif'; g.textAlign = 'center'; g.textBaseline = 'middle';
      g.fillText(count > 9 ? '9+' : String(count), 22, 11);
      try { link.href = canvas.toDataURL('image/png'); link.dataset.badge = String(count); } catch (e) { /* keep the icon */ }
    };
    const img = new Image();
    img.onload = () => finish(img);
    img.onerror = () => finish(null);
    img.src = S.baseIcon;
  }

  function syncCount() {
    const el = byId('utool-unread');
    if (!el) return;
    const count = parseInt(el.dataset.count || '0', 10) || 0;
    const base = document.title.replace(/^\(\d+\+?\)\s*/, '');
    const want = count ? '(' + (count > 99 ? '99+' : count) + ') ' + base : base;
    if (document.title !== want) document.title = want;
    if (count !== S.count) { S.count = count; drawBadge(count); }
  }

  // ----- presence --------------------------------------------------------------------
  function report(status) {
    const reporter = byId('presence-reporter');
    if (!reporter || S.reported === status + reporter.dataset.epoch) return;
    const button = byId('presence-' + status);
    if (!button) return;
    S.reported = status + reporter.dataset.epoch;
    button.click();
  }

  function presenceTick() {
    const reporter = byId('presence-reporter');
    if (!reporter) { S.reported = null; return; }
    if (!reporter.dataset.epoch) { reporter.dataset.epoch = String(Date.now()); S.reported = null; }
    const idle = (parseInt(reporter.dataset.idleSeconds || '300', 10) || 300) * 1000;
    const away = document.visibilityState !== 'visible' || Date.now() - S.lastInput > idle;
    // A fresh tab starts online (the listener connects it): only changes are reported.
    if (S.reported === null && !away) { S.reported = 'online' + reporter.dataset.epoch; return; }
    report(away ? 'away' : 'online');
  }

  const activity = () => { S.lastInput = Date.now(); if (S.reported && S.reported.startsWith('away')) presenceTick(); };
  ['pointerdown', 'keydown', 'mousemove', 'wheel', 'touchstart'].forEach((name) =>
    document.addEventListener(name, activity, { passive: true, capture: true }));
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') S.lastInput = Date.now(); presenceTick(); });
  document.addEventListener('click', (ev) => {
    const t = ev.target && ev.target.closest && ev.target.closest('[data-notify-enable]');
    if (t) request();
  }, true);

  window.utool.notify = { permission, request, incoming, syncCount, state: S };
  mirror();
  setInterval(() => { syncCount(); presenceTick(); mirror(); }, 500);
})();
