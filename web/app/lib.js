// Small helpers shared by the pages: DOM building (never innerHTML with server data),
// the API client, the push-event stream, TUS uploads and human formatting.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// fetch + JSON; a problem body becomes an ApiError carrying its `detail`.
export async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached. Check that pirus server is running.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || text || res.statusText);
  return data;
}

// One server-sent event stream for the whole app (the model changes); pages subscribe to
// kinds and unsubscribe when they go away. EventSource reconnects by itself.
const listeners = new Set();
let source = null;
export function connectEvents(onState) {
  source = new EventSource('/api/v1/events');
  const dispatch = (e) => {
    const msg = JSON.parse(e.data);
    for (const fn of listeners) fn(msg);
  };
  for (const kind of ['job_updated', 'file_updated', 'pipeline_updated']) {
    source.addEventListener(kind, dispatch);
  }
  source.onopen = () => { onState('Live'); for (const fn of listeners) fn({ kind: 'reconnected' }); };
  source.onerror = () => onState('Reconnecting…');
}
export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// --- formatting for people ---------------------------------------------------------------

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i === 0 ? v : v.toLocaleString(undefined, { maximumFractionDigits: v < 10 ? 1 : 0 })) +
    ' ' + units[i];
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const s = (Date.now() - d.getTime()) / 1000;
  if (s >= 0 && s < 60) return 'just now';
  if (s >= 0 && s < 3600) return Math.floor(s / 60) + ' min ago';
  return dateFmt.format(d);
}

export function duration(startIso, endIso) {
  if (!startIso) return '—';
  const ms = (endIso ? new Date(endIso) : new Date()) - new Date(startIso);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

export function badge(status) {
  return h('span', { class: 'badge ' + status }, status === 'pause' ? 'paused' : status);
}

export function errorBox(e, what) {
  return h('div', { class: 'alert', role: 'alert' }, (what ? what + ': ' : '') + (e.message || e));
}

// --- TUS 1.0.0 uploads -------------------------------------------------------------------

function b64(text) {
  const utf8 = new TextEncoder().encode(text);
  let bin = '';
  for (const b of utf8) bin += String.fromCharCode(b);
  return btoa(bin);
}

const CHUNK = 8 * 1024 * 1024;

function patch(url, blob, offset, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PATCH', url);
    xhr.setRequestHeader('Tus-Resumable', '1.0.0');
    xhr.setRequestHeader('Upload-Offset', String(offset));
    xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
    xhr.upload.onprogress = (e) => onProgress(offset + e.loaded);
    xhr.onload = () => {
      if (xhr.status === 204) resolve(Number(xhr.getResponseHeader('Upload-Offset')));
      else {
        let detail = xhr.responseText;
        try { detail = JSON.parse(xhr.responseText).detail; } catch { /* plain text */ }
        reject(new ApiError(xhr.status, detail || 'upload refused'));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'the connection broke'));
    xhr.send(blob);
  });
}

// Uploads `file` resumably; an upload interrupted earlier (same name, size and date) goes
// on from the offset the server has. onProgress(sentBytes). Resolves to the file id.
export async function tusUpload(file, onProgress) {
  const key = 'tus:' + file.name + ':' + file.size + ':' + file.lastModified;
  let url = localStorage.getItem(key);
  let offset = 0;
  if (url) {
    const res = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    if (res.ok) offset = Number(res.headers.get('Upload-Offset'));
    else url = null;
  }
  if (!url) {
    const res = await fetch('/api/v1/uploads', {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(file.size),
        'Upload-Metadata': 'filename ' + b64(file.name),
      },
    });
    if (res.status !== 201) {
      let detail = await res.text();
      try { detail = JSON.parse(detail).detail; } catch { /* plain text */ }
      throw new ApiError(res.status, detail);
    }
    url = res.headers.get('Location');
    localStorage.setItem(key, url);
  }
  const id = Number(url.split('/').pop());
  onProgress(offset);
  let attempts = 0;
  while (offset < file.size) {
    try {
      offset = await patch(url, file.slice(offset, offset + CHUNK), offset, onProgress);
      attempts = 0;
    } catch (e) {
      if (e.status !== 0 || ++attempts > 3) throw e;
      await new Promise((r) => setTimeout(r, 1000 * attempts));  // a broken connection: resume
      const res = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
      if (!res.ok) throw e;
      offset = Number(res.headers.get('Upload-Offset'));
    }
  }
  localStorage.removeItem(key);
  onProgress(file.size);
  return id;
}

// A drop zone with a keyboard-reachable file picker.
export function dropZone({ label, accept, multiple, onFiles }) {
  const input = h('input', {
    type: 'file', accept, multiple, class: 'visually-hidden', id: 'pick-' + label.replace(/\W+/g, '-'),
    'aria-label': 'Choose ' + label, tabindex: '-1',
    onchange: () => { onFiles([...input.files]); input.value = ''; },
    style: 'position:absolute;opacity:0;width:1px;height:1px',
  });
  const zone = h('div', { class: 'drop' },
    h('p', {}, 'Drop ', label, ' here, or '),
    input,
    h('button', { type: 'button', onclick: () => input.click() }, 'Choose ' + label + '…'));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    onFiles([...e.dataTransfer.files]);
  });
  return zone;
}
