/* window.utool.attachments: files for the next message, and the photo lightbox.
 *
 * Files come from the paperclip's picker (several at once), a drop onto the open
 * conversation or an image pasted into it. Each one is uploaded at once, on its own, by an
 * XMLHttpRequest to POST /api/v1/chat/uploads with the login token (localStorage
 * `utool_token`) in the Authorization header: the browser streams the file to the API (its
 * limits, checks and storage are the same for every client), `upload.onprogress` gives a
 * real progress bar per file, and the upload objects stay here, on the client, until a
 * message takes them. Reflex's rx.upload_files is not used: it sends every file of a
 * selection in one request to a Reflex handler, reports no per-file progress, and would
 * need a second path into storage beside the API's.
 *
 * Pending files are kept per conversation (a Map by conversation id) and shown in the
 * composer's #chat-uploads host (utool_chat/components/chat/attachment_preview.py; React
 * renders it empty, this module fills it): a thumbnail or type tile, the name, the size, a
 * progress bar, the error if any and a remove button. Names are set as text, never HTML.
 *
 * takeReady(conversationId) -> {busy, items: [{uploadId, name, type, size, thumbnailUrl?,
 * width?, height?, previewUrl?}]} is PLAN.md's contract 3: if no upload is still running, the
 * finished ones leave the pending list and belong to the message being composed.
 * `thumbnailUrl` is the server's stable URL (it needs the Bearer header: the Reflex views
 * sign it); `previewUrl` is a blob: URL of the local picture, for a bubble drawn in the
 * browser before the server's copy arrives. Until the browser outbox calls takeReady, the
 * composer form's submit calls it here (the capture listener at the end of "where files
 * come from") and hands the items to the Reflex composer in the form's hidden `uploads`
 * field: the one piece of glue to drop when the outbox takes over.
 *
 * Loaded on every mount of the composer; idempotent. Holds only the pending files.
 */
(function () {
  window.utool = window.utool || {};
  if (window.utool.attachments) return;

  const UPLOADS_PATH = '/api/v1/chat/uploads';
  const pending = new Map(); // conversation id -> [item], in the order added
  let nextId = 1;
  let shownHost = null;
  let shownCid = null;
  let notice = '';

  const host = () => document.getElementById('chat-uploads');
  const currentCid = () => { const h = host(); return (h && h.dataset.conversationId) || ''; };
  const itemsOf = (cid) => { if (!pending.has(cid)) pending.set(cid, []); return pending.get(cid); };
  const settings = () => {
    const h = host();
    const d = (h && h.dataset) || {};
    return {
      api: d.api || '',
      maxBytes: Number(d.maxBytes) || 0,
      tooLarge: d.tooLarge || 'The file is too large.',
      maxFiles: Number(d.maxFiles) || 10,
    };
  };
  const token = () => {
    let t = '';
    try { t = localStorage.getItem('utool_token') || ''; } catch (e) { return ''; }
    if (t.startsWith('"')) { try { t = JSON.parse(t); } catch (e) { /* keep as is */ } }
    return t;
  };
  const sizeLabel = (n) => (n < 1024 ? n + ' bytes' : n < 1048576 ? Math.round(n / 1024) + ' KB' : (n / 1048576).toFixed(1) + ' MB');
  const isPhoto = (type) => /^image\/(png|jpeg|gif|webp)$/.test(type || '');
  const extOf = (name) => { const m = /\.([A-Za-z0-9]{1,5})$/.exec(name || ''); return m ? m[1].toUpperCase() : 'FILE'; };
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  // ----- uploading ------------------------------------------------------------------------

  function start(item) {
    const cfg = settings();
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open('POST', cfg.api + UPLOADS_PATH);
    const t = token();
    if (t) xhr.setRequestHeader('Authorization', 'Bearer ' + t);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) { item.loaded = ev.loaded; item.total = ev.total; update(item); }
    };
    xhr.onload = () => {
      item.xhr = null;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body && body.success && body.data && body.data[0]) {
        item.upload = body.data[0];
        item.status = 'ready';
        item.loaded = item.total = item.size;
      } else {
        item.status = 'error';
        item.error = (body && body.error) || ('The upload failed (HTTP ' + xhr.status + ').');
      }
      if (item.removed && item.upload) discard(item);
      update(item);
    };
    xhr.onerror = () => {
      item.xhr = null;
      item.status = 'error';
      item.error = 'The upload failed: the connection was lost. Remove the file and try again.';
      update(item);
    };
    const form = new FormData();
    form.append('files', item.file, item.name);
    xhr.send(form);
  }

  function discard(item) {
    // Taking back an upload that will not be sent (the server would expire it anyway).
    if (!item.upload) return;
    const t = token();
    fetch(settings().api + UPLOADS_PATH + '/' + encodeURIComponent(item.upload._id), {
      method: 'DELETE', headers: t ? { Authorization: 'Bearer ' + t } : {}, keepalive: true,
    }).catch(() => {});
  }

  const api = {
    /** Add files (a FileList or an array) to a conversation's pending list, uploading each. */
    add(files, cid) {
      cid = cid || currentCid();
      if (!cid) return;
      const cfg = settings();
      const list = itemsOf(cid);
      notice = '';
      for (const file of Array.from(files || [])) {
        if (list.length >= cfg.maxFiles) {
          notice = 'At most ' + cfg.maxFiles + ' attachments per message.';
          break;
        }
        const item = {
          id: nextId++, cid, file, name: file.name || 'file', size: file.size, type: file.type || '',
          status: 'uploading', loaded: 0, total: file.size, error: '', upload: null, xhr: null, node: null,
          preview: isPhoto(file.type) ? URL.createObjectURL(file) : '',
        };
        list.push(item);
        if (cfg.maxBytes && file.size > cfg.maxBytes) {
          item.status = 'error';
          item.error = cfg.tooLarge;  // the server's own 413 sentence, checked before sending
        } else {
          start(item);
        }
      }
      render();
    },

    /** Remove a pending file: stops its upload, or takes back the finished upload. */
    remove(id) {
      for (const [cid, list] of pending) {
        const index = list.findIndex((i) => i.id === id);
        if (index < 0) continue;
        const [item] = list.splice(index, 1);
        item.removed = true;
        if (item.xhr) item.xhr.abort();
        else discard(item);
        if (item.preview) URL.revokeObjectURL(item.preview);
        if (cid === currentCid()) render();
        return true;
      }
      return false;
    },

    /** Contract 3 (PLAN.md): the finished uploads of a conversation, taken for a message. */
    takeReady(cid) {
      const list = itemsOf(cid || currentCid());
      if (list.some((i) => i.status === 'uploading')) {
        notice = 'Wait for the upload to finish';  // the composer does not send (contract 3)
        render();
        return { busy: true, items: [] };
      }
      const ready = list.filter((i) => i.status === 'ready');
      pending.set(cid || currentCid(), list.filter((i) => i.status !== 'ready'));
      // The local picture stays loadable for a while: an optimistic bubble may show it
      // (`previewUrl`) until the server's copy, with its signed URLs, replaces it.
      for (const item of ready) if (item.preview) setTimeout(() => URL.revokeObjectURL(item.preview), 120000);
      notice = '';
      render();
      return {
        busy: false,
        items: ready.map((i) => {
          const u = i.upload;
          const out = { uploadId: u._id, name: u.name, type: u.type, size: u.size };
          if (u.thumbnailUrl) out.thumbnailUrl = u.thumbnailUrl;
          if (u.width) { out.width = u.width; out.height = u.height; }
          if (i.preview) out.previewUrl = i.preview;  // blob: URL of the local file (photos)
          return out;
        }),
      };
    },

    /** What is pending (for tests and other modules): name, status, progress, error. */
    list(cid) {
      return itemsOf(cid || currentCid()).map((i) => ({
        name: i.name, size: i.size, status: i.status, error: i.error, uploadId: i.upload ? i.upload._id : null,
      }));
    },

    openLightbox,
  };
  window.utool.attachments = api;

  // ----- the preview in the composer --------------------------------------------------------

  function build(item) {
    const row = el('div', 'chat-upload');
    row.setAttribute('data-testid', 'pending-attachment');
    row.dataset.kind = 'upload';
    const tile = el('div', 'chat-upload-thumb');
    if (item.preview) {
      const img = el('img');
      img.src = item.preview;
      img.alt = '';
      tile.appendChild(img);
    } else {
      tile.appendChild(el('span', 'chat-upload-ext', extOf(item.name)));
    }
    const body = el('div', 'chat-upload-body');
    const name = el('div', 'chat-upload-name', item.name);
    name.title = item.name;
    const meta = el('div', 'chat-upload-meta');
    const bar = el('progress', 'chat-upload-progress');
    bar.max = 100;
    bar.setAttribute('aria-label', 'Uploading ' + item.name);
    bar.setAttribute('data-testid', 'upload-progress');
    const error = el('div', 'chat-upload-error');
    error.setAttribute('role', 'alert');
    error.setAttribute('data-testid', 'upload-error');
    body.append(name, meta, bar, error);
    const remove = el('button', 'chat-upload-remove', '×');
    remove.type = 'button';
    remove.setAttribute('aria-label', 'Remove ' + item.name);
    remove.setAttribute('data-testid', 'remove-upload');
    remove.addEventListener('click', () => {
      api.remove(item.id);
      const input = document.getElementById('chat-input');
      if (input) input.focus();
    });
    row.append(tile, body, remove);
    item.node = { row, meta, bar, error };
    return row;
  }

  function update(item) {
    const n = item.node;
    if (!n) return;
    const percent = item.total ? Math.round((100 * item.loaded) / item.total) : 0;
    n.row.dataset.status = item.status;
    n.row.setAttribute('data-name', item.name);
    n.meta.textContent = sizeLabel(item.size) + (item.status === 'uploading' ? ' · ' + percent + '%' : item.status === 'ready' ? ' · Ready' : '');
    n.bar.value = item.status === 'ready' ? 100 : percent;
    n.bar.hidden = item.status === 'error';
    n.error.textContent = item.error;
    n.error.hidden = !item.error;
  }

  function render() {
    const h = host();
    shownHost = h;
    shownCid = currentCid();
    if (!h) return;
    const list = itemsOf(shownCid);
    h.replaceChildren();
    for (const item of list) {
      h.appendChild(build(item));
      update(item);
    }
    if (notice) {
      const n = el('div', 'chat-upload-notice', notice);
      n.setAttribute('role', 'status');
      n.setAttribute('data-testid', 'upload-notice');
      h.appendChild(n);
    }
    h.hidden = !list.length && !notice;
  }

  // The host is React's: when it is replaced (another conversation, a remount), show the
  // pending files of whatever conversation it now belongs to.
  // Pending files are the signed-in user's: another sign-in in this tab starts empty.
  let shownToken = token();
  setInterval(() => {
    const now = token();
    if (now !== shownToken) {
      shownToken = now;
      for (const list of pending.values()) for (const item of list) { item.removed = true; if (item.xhr) item.xhr.abort(); }
      pending.clear();
      render();
    } else if (host() !== shownHost || currentCid() !== shownCid) {
      render();
    }
  }, 150);

  // Signed file URLs expire: every quarter of their lifetime the page asks for its views
  // again (state/chat/attachments.py), so a tab left open keeps showing its pictures.
  let urlsSignedAt = Date.now();
  const refreshUrls = () => {
    const button = document.getElementById('chat-refresh-files');
    urlsSignedAt = Date.now();
    if (button) button.click();
  };
  api.refreshUrls = refreshUrls;
  setInterval(() => {
    const h = host();
    const every = h ? Number(h.dataset.refreshMs) : 0;
    if (every && Date.now() - urlsSignedAt >= every) refreshUrls();
  }, 5000);

  // ----- where files come from ------------------------------------------------------------

  const inConversation = (node) => !!(node && node.closest && node.closest('[data-testid="conversation-view"]')) && !!host();
  const hasFiles = (dt) => !!dt && Array.from(dt.types || []).includes('Files');
  const dropZone = () => document.querySelector('[data-testid="conversation-view"]');

  document.addEventListener('click', (ev) => {
    const pick = ev.target.closest && ev.target.closest('[data-upload-pick]');
    if (pick) { const input = document.getElementById('chat-file-input'); if (input) input.click(); }
  });
  document.addEventListener('change', (ev) => {
    if (ev.target && ev.target.id === 'chat-file-input') {
      api.add(ev.target.files);
      ev.target.value = '';
    }
  });
  document.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev.dataTransfer) || !host()) return;
    ev.preventDefault();  // elsewhere on the page too: the browser would open the file, leaving the app
    if (!inConversation(ev.target)) { ev.dataTransfer.dropEffect = 'none'; return; }
    ev.dataTransfer.dropEffect = 'copy';
    const zone = dropZone();
    if (zone) zone.dataset.dropping = 'true';
  });
  document.addEventListener('dragleave', (ev) => {
    const zone = dropZone();
    if (zone && !zone.contains(ev.relatedTarget)) delete zone.dataset.dropping;
  });
  document.addEventListener('drop', (ev) => {
    const zone = dropZone();
    if (zone) delete zone.dataset.dropping;
    if (!ev.dataTransfer || !ev.dataTransfer.files.length || !host()) return;
    ev.preventDefault();
    if (inConversation(ev.target)) api.add(ev.dataTransfer.files);
  });
  document.addEventListener('paste', (ev) => {
    const data = ev.clipboardData;
    const files = data ? Array.from(data.files || []) : [];
    // Text pastes as text (a copy from an office program may carry a picture of it as well).
    if (!files.length || Array.from(data.types || []).includes('text/plain') || !inConversation(ev.target)) return;
    ev.preventDefault();
    api.add(files.map((f) => (f.name && f.name !== 'image.png') ? f
      : new File([f], 'Pasted image.' + ((f.type.split('/')[1] || 'png').replace('jpeg', 'jpg')), { type: f.type })));
  });

  // The Reflex composer's send path (until the browser outbox calls takeReady itself): the
  // finished uploads go with the message in the form's hidden `uploads` field.
  document.addEventListener('submit', (ev) => {
    const form = ev.target;
    if (!form || form.id !== 'chat-form') return;
    if (window.utool.outbox) return;  // the browser outbox calls takeReady itself (web-client)
    const field = form.querySelector('input[name="uploads"]');
    const h = host();
    if (!field || !h || h.dataset.editing === 'true') return;
    const taken = api.takeReady(currentCid());
    if (taken.busy) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      notice = 'Wait for the upload to finish';
      render();
      return;
    }
    field.value = taken.items.length ? JSON.stringify(taken.items) : '';
    setTimeout(() => { field.value = ''; }, 0);
  }, true);

  // ----- the lightbox -----------------------------------------------------------------------

  const FOCUSABLE = 'a[href], button:not([disabled]), [tabindex]:not([tabindex="-1"])';

  function openLightbox(src, name, downloadUrl, opener) {
    const dialog = el('dialog', 'chat-lightbox');
    dialog.setAttribute('aria-label', 'Photo: ' + name);
    dialog.setAttribute('data-testid', 'lightbox');
    const bar = el('div', 'chat-lightbox-bar');
    const title = el('div', 'chat-lightbox-name', name);
    const download = el('a', 'chat-lightbox-button', 'Download');
    download.href = downloadUrl || src;
    download.setAttribute('download', name);
    download.setAttribute('data-testid', 'lightbox-download');
    download.setAttribute('aria-label', 'Download ' + name);
    const close = el('button', 'chat-lightbox-button', 'Close');
    close.type = 'button';
    close.setAttribute('data-testid', 'lightbox-close');
    close.setAttribute('aria-label', 'Close');
    bar.append(title, download, close);
    const img = el('img', 'chat-lightbox-img');
    img.src = src;
    img.alt = name;
    img.setAttribute('data-testid', 'lightbox-image');
    dialog.append(bar, img);
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('click', (ev) => { if (ev.target === dialog) dialog.close(); });  // the backdrop
    dialog.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Tab') return;  // Escape: the dialog's own cancel
      const stops = Array.from(dialog.querySelectorAll(FOCUSABLE));
      const first = stops[0];
      const last = stops[stops.length - 1];
      if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
      else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    close.focus();
    return dialog;
  }

  document.addEventListener('click', (ev) => {
    const opener = ev.target.closest && ev.target.closest('[data-lightbox-src]');
    if (!opener) return;
    ev.preventDefault();
    openLightbox(opener.dataset.lightboxSrc, opener.dataset.lightboxName || '', opener.dataset.lightboxDownload, opener);
  });
})();
