// The Pirus dashboard: a single-page application over the REST API, kept live by the push
// event stream (/api/v1/events). Plain ES modules, no framework (docs/architecture.md).
import { h, api, connectEvents, onEvent, bytes, when, duration, badge, errorBox, tusUpload,
  dropZone } from './lib.js';
import { buildForm } from './form.js';

const main = document.getElementById('main');
let cleanups = [];  // what the current page must undo when the user leaves it

function onLeave(fn) { cleanups.push(fn); }
function listen(fn) { onLeave(onEvent(fn)); }

// --- routing -------------------------------------------------------------------------------

const routes = [
  [/^\/(?:pipelines)?$/, pipelinesPage],
  [/^\/pipelines\/(\d+)$/, pipelinePage],
  [/^\/jobs\/new$/, newJobPage],
  [/^\/jobs$/, jobsPage],
  [/^\/jobs\/(\d+)$/, jobPage],
  [/^\/files$/, filesPage],
];

export function go(path) {
  history.pushState(null, '', path);
  render();
}

async function render() {
  for (const fn of cleanups) fn();
  cleanups = [];
  const path = location.pathname;
  for (const a of document.querySelectorAll('nav a')) {
    const here = a.getAttribute('href') === path ||
      (a.getAttribute('href') === '/pipelines' && path === '/');
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    try {
      await page(...m.slice(1));
    } catch (e) {
      main.append(errorBox(e, 'This page could not be loaded'));
    }
    return;
  }
  document.title = 'Not found · Pirus';
  main.append(h('h1', {}, 'Page not found'),
    h('p', {}, 'There is no page at ', h('code', {}, path), '. ', link('/pipelines', 'Go to the pipelines.')));
}

function link(href, text, attrs = {}) {
  return h('a', { href, ...attrs }, text);
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('/api/') || a.hasAttribute('download')) return;
  e.preventDefault();
  go(href);
  main.focus();
});
window.addEventListener('popstate', render);

function title(text, ...extra) {
  document.title = text + ' · Pirus';
  main.append(h('div', { class: 'row', style: 'justify-content:space-between;align-items:center' },
    h('h1', {}, text), ...extra));
}

const FINAL = new Set(['done', 'canceled', 'error']);
const JOB_STATUSES = ['waiting', 'initializing', 'running', 'pause', 'finalizing', 'done', 'canceled', 'error'];

// --- pipelines -----------------------------------------------------------------------------

async function pipelinesPage() {
  title('Pipelines', link('/jobs/new', 'Run a job', { class: 'button' }));
  const installBox = h('section', { class: 'card', 'aria-labelledby': 'install-h' },
    h('h2', { id: 'install-h', style: 'margin-top:0' }, 'Install a pipeline'),
    dropZone({ label: 'a pipeline package (.zip)', accept: '.zip,application/zip', onFiles: (f) => install(f[0]) }));
  const progressArea = h('div', { 'aria-live': 'polite' });
  installBox.append(progressArea);
  const listArea = h('section', { 'aria-labelledby': 'list-h' }, h('h2', { id: 'list-h' }, 'Installed'));
  main.append(installBox, listArea);
  const table = h('div');
  listArea.append(table);

  async function refresh() {
    let data;
    try { data = await api('GET', '/api/v1/pipelines'); } catch (e) { table.replaceChildren(errorBox(e)); return; }
    if (!data.items.length) {
      table.replaceChildren(h('p', { class: 'empty' },
        'No pipeline is installed yet. Drop a pipeline package (a .zip with manifest.json and a Dockerfile) above to install one.'));
      return;
    }
    table.replaceChildren(h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, h('span', { class: 'visually-hidden' }, 'Icon')), h('th', {}, 'Name'),
        h('th', {}, 'Version'), h('th', { class: 'opt' }, 'Type'), h('th', {}, 'Status'), h('th', { class: 'opt' }, 'Installed'))),
      h('tbody', {}, data.items.map((p) => h('tr', { 'data-pipeline': p.id },
        h('td', {}, p.documents && p.documents.icon ? h('img', { class: 'icon', src: p.documents.icon, alt: '' }) : ''),
        h('td', {}, link('/pipelines/' + p.id, p.name)),
        h('td', {}, p.version), h('td', { class: 'opt' }, p.type),
        h('td', { class: 'status' }, badge(p.status)),
        h('td', { class: 'opt' }, when(p.installed_at || p.created_at))))))));
  }

  async function install(file) {
    if (!file) return;
    const bar = h('progress', { max: file.size, value: 0, 'aria-label': 'Upload of ' + file.name });
    const status = h('p', {}, 'Uploading ', file.name, '…');
    const log = h('pre', { class: 'log', 'aria-label': 'Build log', tabindex: '0' });
    progressArea.replaceChildren(status, bar);
    // The build starts as soon as the server answers, maybe before this page reads the
    // answer: keep every pipeline event from now on, and replay this pipeline's ones.
    const early = [];
    const collect = onEvent((ev) => { if (ev.kind === 'pipeline_updated') early.push(ev); });
    onLeave(collect);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/pipelines?filename=' + encodeURIComponent(file.name));
    xhr.setRequestHeader('Content-Type', 'application/zip');
    xhr.upload.onprogress = (e) => { bar.value = e.loaded; };
    xhr.onerror = () => {
      collect();
      progressArea.replaceChildren(errorBox('the connection broke during the upload; try again'));
    };
    xhr.onload = () => {
      collect();
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status !== 202) {
        progressArea.replaceChildren(errorBox((body && body.detail) || xhr.statusText, 'The package was refused'));
        return;
      }
      const id = body.id;
      status.replaceChildren('Building ', link('/pipelines/' + id, body.name + ' ' + body.version), ': ', badge(body.status));
      bar.remove();
      progressArea.append(h('h3', {}, 'Build log'), log);
      const handle = (ev) => {
        if (ev.kind !== 'pipeline_updated' || ev.id !== id) return;
        if (ev.data.build_log) {
          log.append(ev.data.build_log.join('\n') + '\n');
          log.scrollTop = log.scrollHeight;
        }
        if (ev.data.status !== 'installing' || !ev.data.build_log) {
          status.replaceChildren('Pipeline ', link('/pipelines/' + id, body.name + ' ' + body.version), ': ', badge(ev.data.status));
        }
        if (ev.data.status === 'ready' || ev.data.status === 'error') {
          finished = true;
          if (stop) stop();
        }
      };
      let finished = false;
      let stop = null;
      for (const ev of early) handle(ev);
      if (!finished) {
        stop = onEvent(handle);
        onLeave(stop);
      }
      refresh();
    };
    xhr.send(file);
  }

  listen((ev) => {
    if (ev.kind === 'reconnected') { refresh(); return; }
    if (ev.kind !== 'pipeline_updated' || ev.data.build_log) return;
    const cell = table.querySelector(`tr[data-pipeline="${ev.id}"] td.status`);
    if (cell && ev.data.status !== 'deleted') cell.replaceChildren(badge(ev.data.status));
    else refresh();
  });
  await refresh();
}

async function pipelinePage(id) {
  const p = await api('GET', '/api/v1/pipelines/' + id);
  title(p.name + ' ' + p.version, h('div', { class: 'actions' },
    p.status === 'ready' ? link('/jobs/new?pipeline=' + p.id, 'Run this pipeline', { class: 'button' }) : null,
    h('button', { class: 'danger', onclick: uninstall }, 'Uninstall')));
  const msg = h('div', { 'aria-live': 'polite' });
  main.append(msg, h('div', { class: 'grid2' },
    h('section', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Details'), h('dl', { class: 'facts' },
      h('dt', {}, 'Status'), h('dd', { id: 'pstatus' }, badge(p.status)),
      h('dt', {}, 'Type'), h('dd', {}, p.type + ' (' + p.engine + ')'),
      h('dt', {}, 'Description'), h('dd', {}, p.description || '—'),
      h('dt', {}, 'Image'), h('dd', {}, h('code', {}, p.image)),
      h('dt', {}, 'Installed'), h('dd', {}, when(p.installed_at))),
    p.error_reason ? errorBox(p.error_reason, 'Install failed') : null,
    p.status === 'error' ? link('/api/v1/pipelines/' + p.id + '/build-log', 'Read the build log') : null),
    h('section', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Form preview'),
      h('p', { class: 'muted' }, 'What a user fills in when running this pipeline.'),
      buildForm(p.form, { idPrefix: 'preview', disabled: true }).node)));
  for (const name of ['about', 'help']) {
    if (p.documents && p.documents[name]) {
      main.append(h('section', { class: 'card' }, h('h2', { style: 'margin-top:0' }, name === 'about' ? 'About' : 'Help'),
        h('iframe', { class: 'doc', src: p.documents[name], sandbox: '', title: name + ' of ' + p.name })));
    }
  }
  listen((ev) => {
    if (ev.kind === 'pipeline_updated' && ev.id === p.id && !ev.data.build_log) {
      document.getElementById('pstatus')?.replaceChildren(badge(ev.data.status));
    }
  });
  async function uninstall() {
    if (!confirm('Uninstall ' + p.name + ' ' + p.version + '? Its image and package files are removed.')) return;
    try {
      await api('DELETE', '/api/v1/pipelines/' + p.id);
      go('/pipelines');
    } catch (e) {
      msg.replaceChildren(errorBox(e, 'Could not uninstall'));
    }
  }
}

// --- files ---------------------------------------------------------------------------------

// Uploads several files at once, each with its own progress bar; returns the new ids.
function uploadList() {
  const list = h('ul', { class: 'uploads', 'aria-live': 'polite' });
  async function upload(files) {
    return Promise.all(files.map(async (file) => {
      const bar = h('progress', { max: file.size || 1, value: 0, 'aria-label': 'Upload of ' + file.name });
      const text = h('span', {}, ' 0%');
      const li = h('li', {}, file.name, ' (', bytes(file.size), ') ', bar, text);
      list.append(li);
      try {
        const id = await tusUpload(file, (sent) => {
          bar.value = sent;
          text.textContent = ' ' + Math.floor((100 * sent) / (file.size || 1)) + '%';
        });
        text.textContent = ' uploaded';
        return id;
      } catch (e) {
        li.append(errorBox(e, 'Upload failed (drop the file again to resume)'));
        return null;
      }
    }));
  }
  return { list, upload };
}

async function filesPage() {
  title('Files');
  const uploads = uploadList();
  main.append(h('section', { class: 'card', 'aria-labelledby': 'up-h' }, h('h2', { id: 'up-h', style: 'margin-top:0' }, 'Upload'),
    dropZone({ label: 'files', multiple: true, onFiles: (f) => uploads.upload(f) }), uploads.list));
  const area = h('section', { 'aria-labelledby': 'files-h' }, h('h2', { id: 'files-h' }, 'All files'));
  const msg = h('div', { 'aria-live': 'polite' });
  main.append(msg, area);
  const pager = cursorPager(async (cursor) => {
    const data = await api('GET', '/api/v1/files?limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (!data.items.length && !cursor) {
      return { node: h('p', { class: 'empty' }, 'No files yet. Upload sequence files above, then use them as job inputs.'), next: '' };
    }
    return {
      next: data.next_cursor,
      node: h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', { class: 'num' }, 'Size'), h('th', {}, 'Status'),
          h('th', { class: 'opt' }, 'Source'), h('th', { class: 'opt' }, 'Added'), h('th', {}, 'Actions'))),
        h('tbody', {}, data.items.map((f) => h('tr', { 'data-file': f.id },
          h('td', {}, f.name), h('td', { class: 'num' }, bytes(f.size)),
          h('td', { class: 'status' }, badge(f.status)),
          h('td', { class: 'opt' }, f.job_source_id ? link('/jobs/' + f.job_source_id, 'job ' + f.job_source_id) : 'upload'),
          h('td', { class: 'opt' }, when(f.created_at)),
          h('td', {}, h('div', { class: 'actions' },
            f.status === 'uploaded' || f.status === 'checked'
              ? h('a', { class: 'button secondary', href: f.download_url, download: f.name, 'aria-label': 'Download ' + f.name }, 'Download') : null,
            h('button', { class: 'secondary', 'aria-label': 'Delete ' + f.name, onclick: () => remove(f) }, 'Delete')))))))),
    };
  });
  area.append(pager.node);
  async function remove(f) {
    if (!confirm('Delete ' + f.name + '?')) return;
    try { await api('DELETE', '/api/v1/files/' + f.id); pager.reload(); } catch (e) { msg.replaceChildren(errorBox(e, 'Could not delete')); }
  }
  listen((ev) => {
    if (ev.kind === 'reconnected') { pager.reload(); return; }
    if (ev.kind !== 'file_updated') return;
    const cell = area.querySelector(`tr[data-file="${ev.id}"] td.status`);
    if (cell && ev.data.status !== 'deleted' && ev.data.status === 'uploading') cell.replaceChildren(badge('uploading'));
    else if (ev.data.status !== 'uploading') pager.reloadFirstPage();
  });
  await pager.reload();
}

// Server-side pagination with opaque cursors: a stack of the cursors that led here.
function cursorPager(load) {
  const body = h('div');
  const prev = h('button', { class: 'secondary', onclick: () => { stack.pop(); reload(); } }, 'Previous page');
  const next = h('button', { class: 'secondary', onclick: () => { stack.push(nextCursor); reload(); } }, 'Next page');
  const where = h('span', { class: 'muted' });
  const pagerRow = h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, where, next);
  const node = h('div', {}, body, pagerRow);
  const stack = [''];
  let nextCursor = '';
  let pending = null;
  async function reload() {
    try {
      const r = await load(stack[stack.length - 1]);
      body.replaceChildren(r.node);
      nextCursor = r.next;
    } catch (e) {
      body.replaceChildren(errorBox(e, 'Could not load the list'));
      nextCursor = '';
    }
    prev.disabled = stack.length <= 1;
    next.disabled = !nextCursor;
    where.textContent = 'Page ' + stack.length;
    pagerRow.hidden = stack.length === 1 && !nextCursor;  // one page: nothing to page through
  }
  // Many events in a burst give one reload.
  function reloadFirstPage() {
    if (stack.length !== 1 || pending) return;
    pending = setTimeout(() => { pending = null; reload(); }, 250);
  }
  return { node, reload, reloadFirstPage, reset: () => { stack.length = 1; return reload(); } };
}

// --- jobs ----------------------------------------------------------------------------------

function progressBar(job) {
  const pct = Math.round((job.progress || 0) * 100);
  return h('span', { class: 'progress' },
    h('progress', { max: 100, value: FINAL.has(job.status) && job.status === 'done' ? 100 : pct,
      'aria-label': 'Progress of job ' + job.id }), ' ',
    h('span', { class: 'pct' }, (job.status === 'done' ? 100 : pct) + '%'),
    job.progress_label ? h('span', { class: 'muted' }, ' ' + job.progress_label) : '');
}

function jobActions(job, after, onError) {
  const act = (verb) => async () => {
    try {
      if (verb === 'delete') {
        if (!confirm('Delete job ' + job.id + ' with its workspace and outputs?')) return;
        await api('DELETE', '/api/v1/jobs/' + job.id);
      } else {
        if (verb === 'cancel' && !confirm('Cancel job ' + job.id + '? It is stopped and keeps no outputs.')) return;
        await api('POST', '/api/v1/jobs/' + job.id + '/' + verb);
      }
      after(verb);
    } catch (e) { onError(e); }
  };
  const b = (verb, text, cls = 'secondary') => h('button', { class: cls, onclick: act(verb),
    'aria-label': text + ' job ' + job.id }, text);
  return h('div', { class: 'actions' },
    job.status === 'running' ? b('pause', 'Pause') : null,
    job.status === 'pause' ? b('resume', 'Resume') : null,
    !FINAL.has(job.status) ? b('cancel', 'Cancel') : null,
    FINAL.has(job.status) ? b('delete', 'Delete') : null);
}

async function pipelineNames() {
  const data = await api('GET', '/api/v1/pipelines');
  return { items: data.items, names: new Map(data.items.map((p) => [p.id, p.name + ' ' + p.version])) };
}

async function jobsPage() {
  const params = new URLSearchParams(location.search);
  title('Jobs', link('/jobs/new', 'New job', { class: 'button' }));
  const { items: pipelines, names } = await pipelineNames();
  const statusSel = h('select', { id: 'f-status', onchange: apply },
    h('option', { value: '' }, 'Any status'),
    JOB_STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s === 'pause' ? 'paused' : s)));
  const pipeSel = h('select', { id: 'f-pipeline', onchange: apply },
    h('option', { value: '' }, 'Any pipeline'),
    pipelines.map((p) => h('option', { value: p.id, selected: params.get('pipeline_id') === String(p.id) }, p.name + ' ' + p.version)));
  const msg = h('div', { 'aria-live': 'polite' });
  main.append(h('div', { class: 'row card' },
    h('div', { class: 'field' }, h('label', { for: 'f-status' }, 'Status'), statusSel),
    h('div', { class: 'field' }, h('label', { for: 'f-pipeline' }, 'Pipeline'), pipeSel)), msg);

  const rows = new Map();
  const pager = cursorPager(async (cursor) => {
    const q = new URLSearchParams({ limit: '50', order: 'newest' });
    if (statusSel.value) q.set('status', statusSel.value);
    if (pipeSel.value) q.set('pipeline_id', pipeSel.value);
    if (cursor) q.set('cursor', cursor);
    const data = await api('GET', '/api/v1/jobs?' + q);
    rows.clear();
    if (!data.items.length && !cursor) {
      return { next: '', node: h('p', { class: 'empty' }, statusSel.value || pipeSel.value
        ? 'No job matches these filters. Choose “Any status” and “Any pipeline” to see every job.'
        : 'No jobs yet. Start one with “New job”.') };
    }
    return {
      next: data.next_cursor,
      node: h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Id'), h('th', {}, 'Name'), h('th', { class: 'opt' }, 'Pipeline'),
          h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', { class: 'opt' }, 'Started'),
          h('th', { class: 'opt' }, 'Duration'), h('th', {}, 'Actions'))),
        h('tbody', {}, data.items.map((j) => jobRow(j))))),
    };
  });
  function jobRow(j) {
    const tr = h('tr', { 'data-job': j.id },
      h('td', { class: 'num' }, j.id), h('td', {}, link('/jobs/' + j.id, j.name)),
      h('td', { class: 'opt' }, names.get(j.pipeline_id) || (j.pipeline_id ? 'pipeline ' + j.pipeline_id : 'uninstalled')),
      h('td', {}, badge(j.status)), h('td', {}, progressBar(j)),
      h('td', { class: 'opt' }, when(j.started_at)), h('td', { class: 'opt' }, duration(j.started_at, j.ended_at)),
      h('td', {}, jobActions(j, () => pager.reload(), (e) => msg.replaceChildren(errorBox(e)))));
    rows.set(j.id, { tr, job: j });
    return tr;
  }
  function apply() {
    const q = new URLSearchParams();
    if (statusSel.value) q.set('status', statusSel.value);
    if (pipeSel.value) q.set('pipeline_id', pipeSel.value);
    history.replaceState(null, '', '/jobs' + (q.toString() ? '?' + q : ''));
    pager.reset();
  }
  main.append(pager.node);
  listen((ev) => {
    if (ev.kind === 'reconnected') { pager.reload(); return; }
    if (ev.kind !== 'job_updated') return;
    const row = rows.get(ev.id);
    if (!row) { if (ev.data.status === 'waiting') pager.reloadFirstPage(); return; }
    if (ev.data.status === 'deleted') { pager.reload(); return; }
    const statusChanged = row.job.status !== ev.data.status;
    Object.assign(row.job, ev.data);
    if (statusChanged) {
      // Times and actions change with the status: read the job once.
      api('GET', '/api/v1/jobs/' + ev.id).then((j) => row.tr.replaceWith(jobRow(j))).catch(() => {});
    } else {
      row.tr.children[4].replaceChildren(progressBar(row.job));
    }
  });
  await pager.reload();
}

async function newJobPage() {
  const params = new URLSearchParams(location.search);
  title('New job');
  const { items } = await pipelineNames();
  const ready = items.filter((p) => p.status === 'ready');
  if (!ready.length) {
    main.append(h('p', { class: 'empty' }, 'No pipeline is ready to run. ', link('/pipelines', 'Install a pipeline'), ' first.'));
    return;
  }
  const pipeSel = h('select', { id: 'j-pipeline', onchange: loadForm },
    ready.map((p) => h('option', { value: p.id, selected: params.get('pipeline') === String(p.id) }, p.name + ' ' + p.version)));
  const nameIn = h('input', { type: 'text', id: 'j-name', placeholder: 'defaults to the pipeline name and job number' });
  const prioIn = h('input', { type: 'number', id: 'j-priority', value: '0', step: '1' });
  const cpuIn = h('input', { type: 'number', id: 'j-cpus', min: '0.1', step: 'any', placeholder: 'server default' });
  const memIn = h('input', { type: 'number', id: 'j-memory', min: '16', step: '1', placeholder: 'server default' });
  const inputsBox = h('fieldset', { class: 'card' }, h('legend', {}, 'Input files'));
  const formArea = h('div');
  const msg = h('div', { 'aria-live': 'assertive' });
  const uploads = uploadList();
  let form = null;
  const chosen = new Set();

  async function loadInputs() {
    const data = await api('GET', '/api/v1/files?limit=1000');
    const usable = data.items.filter((f) => f.status === 'uploaded' || f.status === 'checked');
    inputsBox.replaceChildren(h('legend', {}, 'Input files'));
    if (!usable.length) inputsBox.append(h('p', { class: 'muted' }, 'No files yet: upload some below.'));
    for (const f of usable) {
      const id = 'in-' + f.id;
      inputsBox.append(h('label', { class: 'check', for: id },
        h('input', { type: 'checkbox', id, value: f.id, checked: chosen.has(f.id),
          onchange: (e) => { if (e.target.checked) chosen.add(f.id); else chosen.delete(f.id); loadForm(); } }),
        f.name, h('span', { class: 'muted' }, ' ' + bytes(f.size) + ', ' + when(f.created_at))));
    }
    inputsBox.append(dropZone({ label: 'new input files', multiple: true, onFiles: async (files) => {
      const ids = await uploads.upload(files);
      for (const id of ids) if (id) chosen.add(id);
      await loadInputs();
      await loadForm();
    } }), uploads.list);
  }
  let formSeq = 0;
  let formPipeline = '';
  let formText = '';
  async function loadForm() {
    const q = chosen.size ? '?inputs=' + [...chosen].join(',') : '';
    const seq = ++formSeq;
    try {
      const schema = await api('GET', '/api/v1/pipelines/' + pipeSel.value + '/form' + q);
      if (seq !== formSeq) return;  // a later choice already asked for a newer form
      // Rebuild only when the form changed (an __INPUTS_FILES__ list follows the inputs):
      // a rebuild under the user's fingers loses focus and what is being typed.
      const text = JSON.stringify(schema);
      if (form && formPipeline === pipeSel.value && text === formText) return;
      formText = text;
      // The same pipeline with other inputs: keep what the user typed, as typed.
      const old = form && formPipeline === pipeSel.value ? form.node : null;
      formPipeline = pipeSel.value;
      form = buildForm(schema, { idPrefix: 'param' });
      for (const el of old ? old.querySelectorAll('[name]') : []) {
        const now = form.node.querySelector('[name="' + CSS.escape(el.name) + '"]');
        if (!now || now.tagName !== el.tagName) continue;
        if (el.type === 'checkbox') now.checked = el.checked;
        else if (now.tagName !== 'SELECT' || [...now.options].some((o) => o.value === el.value)) now.value = el.value;
      }
      formArea.replaceChildren(form.node);
    } catch (e) { formArea.replaceChildren(errorBox(e, 'The form could not be loaded')); }
  }
  async function submit(e) {
    e.preventDefault();
    msg.replaceChildren();
    const { values, errors } = form.read();
    if (errors.length) {
      msg.append(h('div', { class: 'alert', role: 'alert' }, 'Fix ' + errors.length + ' field' + (errors.length > 1 ? 's' : '') + ' first: ' +
        errors.map((x) => x.key + ' — ' + x.problem).join('; ')));
      errors[0].control.focus();
      return;
    }
    const body = { pipeline_id: Number(pipeSel.value), inputs: [...chosen], parameters: values,
      priority: Number(prioIn.value || 0) };
    if (nameIn.value.trim()) body.name = nameIn.value.trim();
    const resources = {};
    if (cpuIn.value) resources.cpus = Number(cpuIn.value);
    if (memIn.value) resources.memory_mb = Number(memIn.value);
    if (Object.keys(resources).length) body.resources = resources;
    try {
      const job = await api('POST', '/api/v1/jobs', body);
      go('/jobs/' + job.id);
    } catch (err) {
      msg.append(errorBox(err, 'The server refused the job'));
    }
  }
  main.append(h('form', { onsubmit: submit, novalidate: true },
    h('div', { class: 'card' }, h('div', { class: 'field' }, h('label', { for: 'j-pipeline' }, 'Pipeline'), pipeSel),
      h('div', { class: 'field' }, h('label', { for: 'j-name' }, 'Job name'), nameIn)),
    inputsBox,
    h('section', { class: 'card', 'aria-labelledby': 'params-h' }, h('h2', { id: 'params-h', style: 'margin-top:0' }, 'Parameters'), formArea),
    h('fieldset', { class: 'card' }, h('legend', {}, 'Priority and resources'), h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'j-priority' }, 'Priority (higher runs first)'), prioIn),
      h('div', { class: 'field' }, h('label', { for: 'j-cpus' }, 'CPUs'), cpuIn),
      h('div', { class: 'field' }, h('label', { for: 'j-memory' }, 'Memory (MB)'), memIn))),
    msg, h('button', { type: 'submit' }, 'Start the job')));
  await loadInputs();
  await loadForm();
}

function chart(points, key, label, fmt) {
  const w = 600, hgt = 120;
  const vals = points.map((p) => p[key] || 0);
  const max = Math.max(1, ...vals);
  const svgNS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const last = vals.length ? vals[vals.length - 1] : 0;
  svg.setAttribute('aria-label', `${label}: ${vals.length} samples, latest ${fmt(last)}, highest ${fmt(Math.max(0, ...vals))}`);
  if (vals.length) {
    const step = vals.length > 1 ? w / (vals.length - 1) : w;
    const d = vals.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(hgt - 4 - (v / max) * (hgt - 8)).toFixed(1)}`).join(' ');
    const path = document.createElementNS(svgNS, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', '#0b5cad');
    path.setAttribute('stroke-width', '2');
    path.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(path);
  }
  return h('figure', { style: 'margin:0' }, h('figcaption', {}, label, ': ', h('strong', {}, vals.length ? fmt(last) : 'no samples yet'),
    vals.length ? h('span', { class: 'muted' }, ' (highest ' + fmt(Math.max(...vals)) + ')') : ''), svg);
}

async function jobPage(id) {
  let job = await api('GET', '/api/v1/jobs/' + id);
  const { names } = await pipelineNames();
  title(job.name);
  const msg = h('div', { 'aria-live': 'polite' });
  const head = h('div', { class: 'card', id: 'job-head' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Status timeline' });
  const io = h('div', { class: 'grid2' });
  const charts = h('div', { class: 'grid2' });
  const seen = [];
  function mark(status, at) {
    if (seen.length && seen[seen.length - 1] === status) return;
    seen.push(status);
    timeline.append(h('li', {}, badge(status), ' ', h('span', { class: 'muted' }, at ? when(at) : new Date().toLocaleTimeString())));
  }
  // What happened before the page opened is known only from the job's times; later changes
  // are added live, as the events arrive.
  mark('waiting', job.created_at);
  if (job.started_at && job.status !== 'initializing') mark('running', job.started_at);
  if (job.status !== 'waiting' && job.status !== 'running') mark(job.status, job.ended_at || job.updated_at);
  let chartsAt = 0;

  function drawHead() {
    head.replaceChildren(...[h('div', { class: 'row', style: 'justify-content:space-between' },
      h('div', {}, badge(job.status), ' ', progressBar(job)),
      jobActions(job, async (verb) => { if (verb === 'delete') go('/jobs'); else await reloadJob(); },
        (e) => msg.replaceChildren(errorBox(e)))),
    job.error_reason ? errorBox(job.error_reason, 'The job failed') : null,
    h('dl', { class: 'facts', style: 'margin-top:12px' },
      h('dt', {}, 'Pipeline'), h('dd', {}, job.pipeline_id ? link('/pipelines/' + job.pipeline_id, names.get(job.pipeline_id) || String(job.pipeline_id)) : 'uninstalled'),
      h('dt', {}, 'Created'), h('dd', {}, when(job.created_at)),
      h('dt', {}, 'Started'), h('dd', {}, when(job.started_at)),
      h('dt', {}, 'Duration'), h('dd', {}, duration(job.started_at, job.ended_at)),
      h('dt', {}, 'Priority'), h('dd', {}, job.priority),
      h('dt', {}, 'Resources'), h('dd', {}, `${job.resources.cpus} CPU, ${bytes(job.resources.memory_mb * 1e6)} memory`),
      job.exit_code !== null ? [h('dt', {}, 'Exit code'), h('dd', {}, job.exit_code)] : null)].filter(Boolean));
  }
  async function drawIo() {
    const files = async (ids) => Promise.all(ids.map((f) => api('GET', '/api/v1/files/' + f).catch(() => ({ id: f, name: 'file ' + f + ' (deleted)' }))));
    const [ins, outs] = await Promise.all([files(job.inputs), files(job.outputs)]);
    const fileList = (list, empty) => list.length ? h('ul', {}, list.map((f) => h('li', {},
      f.download_url ? h('a', { href: f.download_url, download: f.name }, f.name) : f.name,
      f.size !== undefined ? h('span', { class: 'muted' }, ' ' + bytes(f.size)) : '',
      previewable(f) ? [' ', h('button', { type: 'button', class: 'secondary', 'aria-label': 'Preview ' + f.name,
        onclick: () => showPreview(f) }, 'Preview')] : null))) : h('p', { class: 'muted' }, empty);
    io.replaceChildren(
      h('section', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Inputs'), fileList(ins, 'No input files.')),
      h('section', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Parameters'),
        Object.keys(job.parameters).length ? h('dl', { class: 'facts' }, Object.entries(job.parameters).map(([k, v]) => [h('dt', {}, k), h('dd', {}, JSON.stringify(v))]))
          : h('p', { class: 'muted' }, 'No parameters.')),
      h('section', { class: 'card', id: 'outputs' }, h('h2', { style: 'margin-top:0' }, 'Outputs'),
        fileList(outs, job.status === 'done' ? 'This job produced no files.' : 'Outputs appear here when the job is done.')));
  }
  // Text and HTML reports are shown in the page: text as text, HTML in a sandboxed frame
  // (no scripts, no same-origin access), both read with the download URL.
  const preview = h('section', { class: 'card', id: 'preview', hidden: true });
  function previewable(f) {
    return f.download_url && f.size <= 2e6 && /\.(txt|tsv|csv|log|md|json|html?)$/i.test(f.name);
  }
  async function showPreview(f) {
    preview.hidden = false;
    try {
      const res = await fetch(f.download_url);
      if (!res.ok) throw new Error('the file could not be read (HTTP ' + res.status + ')');
      const text = await res.text();
      const body = /\.html?$/i.test(f.name)
        ? h('iframe', { class: 'doc', sandbox: '', srcdoc: text, title: 'Preview of ' + f.name })
        : h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Preview of ' + f.name }, text);
      preview.replaceChildren(h('h2', { style: 'margin-top:0' }, 'Preview: ' + f.name), body);
    } catch (e) { preview.replaceChildren(errorBox(e, 'Preview failed')); }
    preview.scrollIntoView();
  }
  async function drawCharts() {
    try {
      const m = await api('GET', '/api/v1/jobs/' + job.id + '/monitoring');
      const pts = m.history ? m.history.points : [];
      charts.replaceChildren(
        h('section', { class: 'card' }, chart(pts, 'cpu_percent', 'CPU', (v) => v.toFixed(0) + '%')),
        h('section', { class: 'card' }, chart(pts, 'memory_bytes', 'Memory', bytes)));
    } catch (e) { charts.replaceChildren(errorBox(e, 'Monitoring unavailable')); }
  }
  async function reloadJob() {
    job = await api('GET', '/api/v1/jobs/' + job.id);
    drawHead();
    drawIo();
    drawCharts();
  }

  // Logs: followed over a chunked response (?follow=true), which ends when the job is final.
  const logs = { stdout: h('pre', { class: 'log', id: 'log-stdout', tabindex: '0', 'aria-label': 'Standard output' }),
    stderr: h('pre', { class: 'log', id: 'log-stderr', tabindex: '0', 'aria-label': 'Standard error', hidden: true }) };
  const texts = { stdout: '', stderr: '' };
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const search = h('input', { type: 'search', id: 'log-search', placeholder: 'Search the log', oninput: () => { drawLog('stdout'); drawLog('stderr'); } });
  const tabs = ['stdout', 'stderr'].map((s) => h('button', { type: 'button', role: 'tab', id: 'tab-' + s, 'aria-selected': String(s === 'stdout'),
    'aria-controls': 'log-' + s, class: 'secondary', onclick: () => {
      for (const t of tabs) t.setAttribute('aria-selected', String(t.id === 'tab-' + s));
      logs.stdout.hidden = s !== 'stdout';
      logs.stderr.hidden = s !== 'stderr';
    } }, s));
  function drawLog(stream) {
    const pre = logs[stream];
    const q = search.value;
    const text = texts[stream];
    if (!q) pre.replaceChildren(text || (FINAL.has(job.status) ? '(empty)' : '(nothing yet)'));
    else {
      const lines = text.split('\n').filter((l) => l.toLowerCase().includes(q.toLowerCase()));
      pre.replaceChildren(...lines.flatMap((l) => {
        const i = l.toLowerCase().indexOf(q.toLowerCase());
        return [l.slice(0, i), h('mark', {}, l.slice(i, i + q.length)), l.slice(i + q.length) + '\n'];
      }));
      if (!lines.length) pre.append('(no line contains “' + q + '”)');
    }
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  }
  const abort = new AbortController();
  onLeave(() => abort.abort());
  async function followLog(stream) {
    try {
      const res = await fetch(`/api/v1/jobs/${job.id}/logs/${stream}?follow=true`, { signal: abort.signal });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        texts[stream] += value;
        drawLog(stream);
      }
    } catch (e) {
      if (e.name !== 'AbortError') logs[stream].append('\n[the log stream broke: reload the page to read the rest]');
    }
  }

  main.append(msg, head,
    h('section', { class: 'card', 'aria-labelledby': 'logs-h' }, h('h2', { id: 'logs-h', style: 'margin-top:0' }, 'Logs'),
      h('div', { class: 'tabs' }, h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Log stream', style: 'margin:0' }, tabs),
        h('label', { class: 'check', for: 'follow', style: 'margin:0 12px' }, follow, 'Follow'),
        h('label', { for: 'log-search', class: 'visually-hidden', style: 'position:absolute;left:-999px' }, 'Search the log'), search),
      logs.stdout, logs.stderr),
    h('h2', {}, 'Resource usage'), charts, io, preview,
    h('section', { class: 'card' }, h('h2', { style: 'margin-top:0' }, 'Timeline'), timeline));
  drawHead();
  drawLog('stdout');
  drawLog('stderr');
  followLog('stdout');
  followLog('stderr');
  await Promise.all([drawIo(), drawCharts()]);

  listen((ev) => {
    if (ev.kind === 'reconnected') { reloadJob(); return; }
    if (ev.kind !== 'job_updated' || ev.id !== job.id) return;
    if (ev.data.status === 'deleted') { go('/jobs'); return; }
    const changed = ev.data.status !== job.status;
    Object.assign(job, ev.data);
    mark(job.status);
    if (changed) reloadJob();
    else {
      drawHead();
      // Progress can come many times a second; the usage history moves at the sampling pace.
      if (Date.now() - chartsAt > 2000) { chartsAt = Date.now(); drawCharts(); }
    }
  });
}

connectEvents((state) => { document.getElementById('live').textContent = state === 'Live' ? 'Live updates on' : state; });
render();
