// esa-connect console: the task list, ESA's Create Delivery Task flow in four steps, and a task's
// page (health, edit, pause, delete, ownership). Hand-written, no framework: the DOM is built with
// createElement and textContent only (the Content-Security-Policy enforces Trusted Types).
'use strict';
(() => {
  const POLL_MS = 3000;
  const S = {session: null, catalog: null, cats: {}, dests: {}, ops: {}, poll: null, wizard: null};

  // ---------- DOM helpers ----------

  // h builds an element: props set attributes (class, text, value, on<event> handlers, dataset,
  // booleans as properties), children are nodes or strings (null and false are skipped).
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    let value;
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'value') value = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (['checked', 'disabled', 'hidden', 'selected', 'open', 'required', 'multiple'].includes(k)) el[k] = true;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    add(el, kids);
    if (value !== undefined) el.value = value;
    return el;
  }
  function add(el, ...kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }
  // fill replaces the children of el (null and false are skipped).
  const fill = (el, ...kids) => { el.replaceChildren(); return add(el, kids); };
  const $ = (sel, root) => (root || document).querySelector(sel);
  const enc = encodeURIComponent;
  const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '0');
  const clock = (d) => d.toLocaleTimeString('en-GB', {hour12: false});
  let uid = 0;
  const nextId = (p) => p + '-' + (++uid);

  function ago(iso) {
    if (!iso) return '';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return new Date(iso).toLocaleString('en-GB');
  }
  const when = (iso) => h('time', {datetime: iso, title: new Date(iso).toLocaleString('en-GB')}, ago(iso));

  let toastTimer;
  function toast(msg, error) {
    const t = $('#toast');
    t.textContent = msg;
    t.className = 'toast' + (error ? ' error' : '');
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4500);
  }

  // ---------- API ----------

  async function api(method, path, body) {
    const opt = {method, credentials: 'same-origin', headers: {}};
    if (method !== 'GET') opt.headers['X-CSRF-Token'] = S.session ? S.session.csrf_token : '';
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch('/console/api' + path, opt);
    } catch (e) {
      return {ok: false, status: 0, data: {error: {code: 'Network', message: 'cannot reach esa-connect serve (' + e.message + ')'}}};
    }
    if (res.status === 401) {
      location.assign('/console/signin');
      return new Promise(() => {});
    }
    let data = {};
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    return {ok: res.ok, status: res.status, data};
  }
  const errText = (r) => (r.data && r.data.error ? r.data.error.message : 'error ' + r.status);

  function startPolling(fn) {
    stopPolling();
    S.poll = setInterval(() => { if (!document.hidden) fn(); }, POLL_MS);
  }
  function stopPolling() {
    if (S.poll) clearInterval(S.poll);
    S.poll = null;
  }

  // ---------- Forms: fields, their errors and the problems of a validation ----------

  // Form places validation problems next to the fields registered for their target.
  class Form {
    constructor(visible) {
      this.reg = new Map(); // target → {input, err}
      this.problems = [];
      this.visible = visible || (() => true);
      this.other = null; // element for problems no field shows
    }
    reset() { this.reg.clear(); this.other = null; }
    register(target, input, err) { this.reg.set(target, {input, err}); }
    show() {
      const by = new Map();
      const rest = [];
      for (const p of this.problems) {
        if (!this.visible(p)) continue;
        if (this.reg.has(p.target)) {
          if (!by.has(p.target)) by.set(p.target, []);
          by.get(p.target).push(p);
        } else rest.push(p);
      }
      for (const [target, {input, err}] of this.reg) {
        const ps = by.get(target) || [];
        err.textContent = ps.map((p) => p.message).join(' · ');
        for (const el of [].concat(input || [])) el.setAttribute('aria-invalid', ps.length ? 'true' : 'false');
      }
      if (this.other) {
        this.other.replaceChildren();
        if (rest.length) {
          add(this.other, h('div', {class: 'callout error', role: 'alert'},
            h('strong', null, rest.length === 1 ? 'Problem' : 'Problems'),
            h('ul', null, rest.map((p) => h('li', null, p.path ? h('code', null, p.path) : null, p.path ? ': ' : null, p.message)))));
        }
      }
    }
    // firstInvalid is the first control (in page order) whose field shows a problem.
    firstInvalid() {
      const bad = [];
      for (const {input, err} of this.reg.values()) {
        if (err.textContent && err.isConnected) bad.push([].concat(input || [])[0] || err);
      }
      bad.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
      return bad[0] || (this.other && this.other.firstChild);
    }
  }

  // block is a labelled field: label (with ESA's parameter name), control, help and error, registered
  // on form under target.
  function block(form, o) {
    const input = o.input || o.control;
    const id = o.id || (input && input.id) || nextId('f');
    const helpId = id + '-help';
    const errId = id + '-err';
    const err = h('p', {class: 'error', id: errId, 'aria-live': 'polite'});
    if (input && !input.id) input.id = id;
    const inputId = input ? input.id : id;
    if (input) input.setAttribute('aria-describedby', (o.help ? helpId + ' ' : '') + errId);
    if (form && o.target) form.register(o.target, input, err);
    return h('div', {class: 'field' + (o.class ? ' ' + o.class : ''), dataset: {target: o.target || ''}},
      o.label ? h('label', {for: inputId, class: o.required ? 'req' : null}, o.label, o.esa ? h('span', {class: 'esa-name'}, o.esa) : null) : null,
      o.control,
      o.help ? h('p', {class: 'help', id: helpId}, o.help) : null,
      err);
  }

  function copyButton(getText, what) {
    const b = h('button', {type: 'button', class: 'btn btn-sm', 'aria-label': 'Copy ' + what}, 'Copy');
    b.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(getText());
        b.textContent = 'Copied';
      } catch (e) {
        b.textContent = 'Select and copy';
      }
      setTimeout(() => { b.textContent = 'Copy'; }, 1600);
    });
    return b;
  }

  function codeBlock(title, text, what) {
    const pre = h('pre', {tabindex: '0', 'aria-label': title}, text);
    return h('div', {class: 'code'}, h('div', {class: 'code-head'}, h('h3', null, title), copyButton(() => pre.textContent, what)), pre);
  }

  // ---------- Status ----------

  const STATUS = {
    online: {cls: 'online', label: 'online'},
    offline: {cls: 'offline', label: 'offline'},
    pending_verification: {cls: 'pending', label: 'pending verification'},
    failed: {cls: 'failed', label: 'failed'},
  };
  const statusOf = (t) => STATUS[t.status] || {cls: 'offline', label: t.status || 'unknown'};
  const badge = (t) => { const s = statusOf(t); return h('span', {class: 'badge ' + s.cls, dataset: {status: t.status}}, s.label); };

  function healthLines(hl, t) {
    const out = [];
    if (hl.last_complete) out.push(h('span', {class: 'health-line'}, 'Last delivery ', when(hl.last_complete)));
    else if (hl.running) out.push(h('span', {class: 'health-line muted'}, 'No delivery yet'));
    else out.push(h('span', {class: 'health-line muted'}, t.status === 'pending_verification' ? 'Waits for the ownership token' : 'Not running'));
    if (hl.error_message) {
      out.push(h('span', {class: 'health-error', title: hl.error_message}, 'Error', hl.last_error ? [' ', when(hl.last_error)] : null, ': ', hl.error_message));
    } else if (hl.last_error) {
      out.push(h('span', {class: 'health-line muted'}, 'Last error ', when(hl.last_error), ' (recovered)'));
    }
    return out;
  }

  async function setStatus(t, method) {
    const r = await api('POST', '/tasks/' + enc(t.name) + '/status', {method});
    if (!r.ok) { toast('Task ' + t.name + ': ' + errText(r), true); return false; }
    toast(method === 'online' ? 'Task ' + t.name + ' resumed.' : 'Task ' + t.name + ' paused.');
    return true;
  }

  function confirmDialog(title, text, confirm) {
    const prev = document.activeElement;
    return new Promise((resolve) => {
      const titleId = nextId('dlg');
      const cancel = h('button', {type: 'button', class: 'btn', autofocus: true}, 'Cancel');
      const ok = h('button', {type: 'button', class: 'btn btn-danger', id: 'confirm-delete'}, confirm);
      const dlg = h('dialog', {'aria-labelledby': titleId},
        h('div', {class: 'dialog-body'}, h('h2', {id: titleId}, title), h('p', {class: 'muted'}, text)),
        h('div', {class: 'dialog-actions'}, cancel, ok));
      cancel.addEventListener('click', () => dlg.close('cancel'));
      ok.addEventListener('click', () => dlg.close('ok'));
      dlg.addEventListener('close', () => {
        resolve(dlg.returnValue === 'ok');
        dlg.remove();
        if (prev && prev.isConnected) prev.focus();
      });
      document.body.append(dlg);
      dlg.showModal();
      cancel.focus();
    });
  }

  async function deleteTask(t) {
    const yes = await confirmDialog('Delete task ' + t.name + '?',
      'Its stream stops and its definition is removed from serve. Records already delivered stay where they are. This cannot be undone.',
      'Delete task');
    if (!yes) return false;
    const r = await api('DELETE', '/tasks/' + enc(t.name));
    if (!r.ok) { toast('Task ' + t.name + ': ' + errText(r), true); return false; }
    toast('Task ' + t.name + ' deleted.');
    return true;
  }

  // ---------- Task list ----------

  function showTasks(main) {
    document.title = 'Delivery tasks · esa-connect console';
    const search = h('input', {type: 'search', id: 'task-search', placeholder: 'Filter tasks', 'aria-label': 'Filter tasks by name, category, destination or status'});
    const live = h('span', {class: 'live', id: 'live', role: 'status'}, 'Loading…');
    const body = h('div', {id: 'task-table'});
    fill(main, 
      h('div', {class: 'page-head'},
        h('div', null, h('h1', null, 'Delivery tasks'),
          h('p', {class: 'muted'}, 'The real-time log delivery tasks of this esa-connect serve, with their status and health.')),
        h('div', {class: 'page-actions'}, h('a', {class: 'btn btn-primary', href: '#/create', id: 'create-task'}, '+ Create delivery task'))),
      h('div', {class: 'toolbar'}, search, live),
      body);
    let tasks = null;
    const draw = () => drawTasks(body, tasks, search.value.trim().toLowerCase(), load);
    search.addEventListener('input', draw);
    async function load() {
      const r = await api('GET', '/tasks');
      if (!body.isConnected) return;
      if (!r.ok) {
        live.textContent = 'Not refreshed: ' + errText(r);
        live.classList.add('stale');
        return;
      }
      tasks = r.data.tasks || [];
      live.classList.remove('stale');
      live.textContent = 'Updated ' + clock(new Date()) + ' · refreshes every ' + POLL_MS / 1000 + ' s';
      draw();
    }
    load();
    startPolling(load);
  }

  function drawTasks(body, tasks, q, reload) {
    if (tasks === null) return;
    const active = document.activeElement;
    const key = active && active.dataset ? active.dataset.key : null;
    if (!tasks.length) {
      fill(body, h('div', {class: 'card empty'},
        h('h2', null, 'No delivery tasks yet'),
        h('p', {class: 'muted'}, 'A task takes one log category of a site (access, firewall, …), keeps the fields you choose, samples and filters the records, and delivers them to your destination.'),
        h('a', {class: 'btn btn-primary', href: '#/create'}, 'Create your first task')));
      return;
    }
    const shown = tasks.filter((t) => !q || [t.name, t.category, t.category_title, t.destination_title, t.destination, t.status]
      .some((s) => String(s || '').toLowerCase().includes(q)));
    const rows = shown.map((t) => taskRow(t, reload));
    fill(body, h('div', {class: 'table-wrap'}, h('table', {class: 'tasks'},
      h('caption', {class: 'sr-only'}, 'Delivery tasks: ' + tasks.length),
      h('thead', null, h('tr', null,
        h('th', {scope: 'col'}, 'Task'), h('th', {scope: 'col'}, 'Destination'), h('th', {scope: 'col'}, 'Status'),
        h('th', {scope: 'col'}, 'Health'), h('th', {scope: 'col', class: 'num'}, 'In'), h('th', {scope: 'col', class: 'num'}, 'Delivered'),
        h('th', {scope: 'col', class: 'num'}, 'Failed'), h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', {colspan: '8', class: 'muted'}, 'No task matches “' + q + '”.'))))));
    if (key) {
      const again = body.querySelector('[data-key="' + CSS.escape(key) + '"]');
      if (again) again.focus();
    }
  }

  // count is a record count cell: the running stream's, or a dash when the task does not run.
  function count(hl, key, label, name) {
    if (!hl.running) return h('td', {class: 'num', 'data-label': label, dataset: {count: name}, title: 'counted while the task runs'}, h('span', {class: 'faint'}, '–'));
    return h('td', {class: 'num', 'data-label': label, dataset: {count: name}},
      h('span', {class: name === 'failed' && hl[key] ? 'bad' : null}, fmt(hl[key])));
  }

  function taskRow(t, reload) {
    const hl = t.health || {};
    const act = (label, key, fn, cls) => h('button', {type: 'button', class: 'btn btn-link btn-sm' + (cls ? ' ' + cls : ''),
      'aria-label': label + ' task ' + t.name, dataset: {key: key + ':' + t.name}, onclick: fn}, label);
    const actions = [];
    if (t.status === 'pending_verification') {
      actions.push(h('a', {class: 'btn btn-link btn-sm', href: '#/tasks/' + enc(t.name), 'aria-label': 'Verify ownership of task ' + t.name,
        dataset: {key: 'verify:' + t.name}}, 'Verify'));
    } else if (t.status === 'offline') {
      actions.push(act('Resume', 'resume', async () => { if (await setStatus(t, 'online')) reload(); }));
    } else {
      actions.push(act('Pause', 'pause', async () => { if (await setStatus(t, 'offline')) reload(); }));
    }
    actions.push(h('a', {class: 'btn btn-link btn-sm', href: '#/tasks/' + enc(t.name), 'aria-label': 'Edit task ' + t.name,
      dataset: {key: 'edit:' + t.name}}, 'Edit'));
    actions.push(act('Delete', 'delete', async () => { if (await deleteTask(t)) reload(); }, 'danger'));
    const reason = t.status === 'failed' ? hl.error_message : (t.status === 'offline' ? t.reason : '');
    return h('tr', {dataset: {task: t.name}},
      h('td', {'data-label': 'Task'},
        h('a', {class: 'task-name', href: '#/tasks/' + enc(t.name), dataset: {key: 'open:' + t.name}}, t.name),
        h('span', {class: 'sub'}, (t.category_title || t.category || '?') + (t.site_id ? ' · site ' + t.site_id : ' · account'))),
      h('td', {'data-label': 'Destination'}, h('span', null, t.destination_title || t.delivery_type),
        h('span', {class: 'dest-target', title: t.destination}, t.destination)),
      h('td', {'data-label': 'Status'}, badge(t), reason ? h('span', {class: 'reason', title: reason}, reason) : null,
        t.problem ? h('span', {class: 'reason'}, t.problem) : null),
      h('td', {'data-label': 'Health', class: 'health-cell'}, healthLines(hl, t)),
      count(hl, 'records_in', 'In', 'in'),
      count(hl, 'records_delivered', 'Delivered', 'delivered'),
      count(hl, 'records_failed', 'Failed', 'failed'),
      h('td', {class: 'actions-cell'}, h('div', {class: 'actions'}, actions)));
  }

  // ---------- Logs and fields (step 2, and a task's edit) ----------

  const fieldType = (cat, name) => {
    if (name.startsWith('CustomFields.')) return 'string';
    const f = cat.fields.find((x) => x.name === name);
    return f ? f.type : null;
  };
  const opsFor = (type) => S.catalog.operators.filter((o) => !type || o.types.includes(type));

  // fieldPicker: the category's fields as a searchable list with descriptions, select all / clear /
  // default, and the delivery order of the selected ones.
  function fieldPicker(form, d, cat, changed) {
    const search = h('input', {type: 'search', id: 'field-search', placeholder: 'Search ' + cat.fields.length + ' fields', 'aria-label': 'Search fields by name or description'});
    const list = h('div', {class: 'picker-list', id: 'field-list', role: 'group', 'aria-label': 'Fields of ' + cat.title});
    const order = h('div', {class: 'order-list', id: 'field-order'});
    const count = h('span', {class: 'picker-count', id: 'field-count', 'aria-live': 'polite'});
    const err = h('p', {class: 'error', id: 'fields-err', 'aria-live': 'polite'});
    form.register('fields', search, err);
    const matches = (f, q) => !q || f.name.toLowerCase().includes(q) || (f.about || '').toLowerCase().includes(q) || f.group.toLowerCase().includes(q);
    const visible = () => cat.fields.filter((f) => matches(f, search.value.trim().toLowerCase()));
    function drawList() {
      const q = search.value.trim().toLowerCase();
      const groups = [];
      for (const f of cat.fields) {
        if (!matches(f, q)) continue;
        let g = groups.find((x) => x.name === f.group);
        if (!g) groups.push(g = {name: f.group, fields: []});
        g.fields.push(f);
      }
      fill(list, ...(groups.length ? groups.map((g) => h('div', {class: 'group'},
        h('div', {class: 'group-head'}, h('span', null, g.name), h('span', {class: 'faint'}, g.fields.length)),
        g.fields.map((f) => h('label', {class: 'field-row'},
          h('input', {type: 'checkbox', dataset: {field: f.name}, checked: d.fields.includes(f.name),
            onchange: (e) => toggle(f.name, e.target.checked)}),
          h('span', null, h('span', {class: 'field-name'}, f.name), h('span', {class: 'type'}, f.type),
            h('span', {class: 'field-about'}, plain(f.about))))))) : [h('p', {class: 'order-empty'}, 'No field matches “' + search.value + '”.')]));
    }
    function drawOrder(focusKey) {
      const items = d.fields.map((f, i) => h('li', null,
        h('span', {class: 'field-name', title: f}, f),
        h('button', {type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Move ' + f + ' up', disabled: i === 0,
          dataset: {key: 'up:' + f}, onclick: () => move(i, -1, 'up:' + f)}, '↑'),
        h('button', {type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Move ' + f + ' down', disabled: i === d.fields.length - 1,
          dataset: {key: 'down:' + f}, onclick: () => move(i, 1, 'down:' + f)}, '↓'),
        h('button', {type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Remove ' + f, dataset: {key: 'rm:' + f},
          onclick: () => toggle(f, false)}, '✕')));
      fill(order, h('div', {class: 'order-head'}, 'Delivery order'),
        items.length ? h('ol', {'aria-label': 'Delivery order of the selected fields'}, items) : h('p', {class: 'order-empty'}, 'No field selected.'));
      count.textContent = d.fields.length + ' of ' + cat.fields.length + ' selected';
      if (focusKey) {
        const el = order.querySelector('[data-key="' + CSS.escape(focusKey) + '"]');
        if (el && !el.disabled) el.focus();
        else if (el) { const alt = el.parentNode.querySelector('button:not(:disabled)'); if (alt) alt.focus(); }
      }
    }
    function toggle(name, on) {
      const has = d.fields.includes(name);
      if (on && !has) d.fields.push(name);
      if (!on && has) d.fields.splice(d.fields.indexOf(name), 1);
      const box = list.querySelector('input[data-field="' + CSS.escape(name) + '"]');
      if (box) box.checked = on;
      drawOrder();
      changed('fields');
    }
    function move(i, by, key) {
      const j = i + by;
      if (j < 0 || j >= d.fields.length) return;
      [d.fields[i], d.fields[j]] = [d.fields[j], d.fields[i]];
      drawOrder(key);
      changed('fields');
    }
    const setAll = (names) => { d.fields.splice(0, d.fields.length, ...names); drawList(); drawOrder(); changed('fields'); };
    search.addEventListener('input', drawList);
    drawList();
    drawOrder();
    return h('section', {class: 'section', 'aria-labelledby': 'fields-title', dataset: {target: 'fields'}},
      h('h2', {id: 'fields-title'}, 'Fields', h('span', {class: 'esa-name'}, 'FieldName')),
      h('p', {class: 'muted'}, 'The fields each delivered record keeps, in the order on the right. Search by name or description.'),
      h('div', {class: 'picker-bar'}, search,
        h('button', {type: 'button', class: 'btn btn-sm', id: 'select-all', onclick: () => setAll([...d.fields, ...visible().map((f) => f.name).filter((n) => !d.fields.includes(n))])},
          'Select all'),
        h('button', {type: 'button', class: 'btn btn-sm', id: 'select-none', onclick: () => setAll([])}, 'Clear'),
        h('button', {type: 'button', class: 'btn btn-sm', id: 'select-default', onclick: () => { search.value = ''; setAll(cat.fields.map((f) => f.name)); }},
          'Default selection'),
        count),
      h('div', {class: 'picker'}, list, order), err);
  }

  // plain drops the Markdown backticks of the catalog's descriptions.
  const plain = (s) => (s || '').replace(/`/g, '');

  function samplingBlock(form, d, changed) {
    const rate = h('input', {type: 'number', id: 'sampling-rate', min: '0.01', max: '100', step: '0.01', inputmode: 'decimal',
      value: d.sampling_rate, oninput: (e) => { d.sampling_rate = e.target.value; changed('sampling_rate'); }});
    return h('section', {class: 'section'}, block(form, {target: 'sampling_rate', label: 'Sampling rate', esa: 'DiscardRate', input: rate,
      control: h('div', {class: 'suffix'}, rate, h('span', {class: 'muted'}, '% of records delivered')),
      help: 'From 0.01 to 100 with up to 2 decimals. ESA receives it as DiscardRate = 1 − rate / 100.'}));
  }

  // filterEditor: up to max_conditions AND-ed conditions, each with the operators its field's type allows.
  function filterEditor(form, d, cat, changed) {
    const max = S.catalog.max_conditions;
    const listId = nextId('filter-fields');
    const datalist = h('datalist', {id: listId}, cat.fields.map((f) => h('option', {value: f.name}, f.type)),
      cat.custom_fields ? ['request_headers', 'response_headers', 'cookies'].map((k) => h('option', {value: 'CustomFields.' + k + '.'}, 'custom field')) : null);
    const rowsBox = h('div', {class: 'filters', id: 'filters'});
    const addBtn = h('button', {type: 'button', class: 'btn btn-sm', id: 'add-condition'}, '+ Add condition');
    const counter = h('span', {class: 'muted small', id: 'filter-count'});
    const err = h('p', {class: 'error', id: 'filters-err'});
    const section = h('section', {class: 'section', 'aria-labelledby': 'filter-title'});

    if (d.filter_rules !== null && d.filter_rules !== undefined) {
      // A filter with OR groups: edited as ESA's filter JSON.
      const ta = h('textarea', {id: 'filter-json', rows: '6', spellcheck: 'false', value: d.filter_rules,
        oninput: (e) => { d.filter_rules = e.target.value; changed('filters'); }});
      form.register('filters', ta, err);
      return add(section, h('h2', {id: 'filter-title'}, 'Filter', h('span', {class: 'esa-name'}, 'FilterRules')),
        h('p', {class: 'muted'}, 'This filter has OR groups, which the condition rows cannot show: edit it as ESA\'s filter JSON.'),
        h('div', {class: 'field'}, h('label', {for: 'filter-json'}, 'Filter JSON'), ta,
          h('p', {class: 'help'}, '[{"Field": {"operator": [values]}}, {"any": [...]}]: elements AND-ed, an "any" element an OR group.'), err));
    }
    form.register('filters', null, err);

    function opSelect(row, i) {
      const type = fieldType(cat, row.field.trim());
      const ops = opsFor(type);
      if (!ops.some((o) => o.name === row.op)) row.op = ops[0].name;
      return h('select', {id: 'cond-op-' + i, class: 'cond-op', 'aria-label': 'Operator of condition ' + (i + 1), value: row.op}, ops.map((o) => h('option', {value: o.name}, o.label)));
    }
    function drawRows(focus) {
      form.reg.forEach((v, k) => { if (k.startsWith('filters[')) form.reg.delete(k); });
      const rows = d.filters.map((row, i) => {
        const rowErr = h('p', {class: 'error', id: 'cond-err-' + i, 'aria-live': 'polite'});
        const field = h('input', {id: 'cond-field-' + i, class: 'cond-field', list: listId, value: row.field, placeholder: 'Field', autocomplete: 'off', spellcheck: 'false',
          'aria-label': 'Field of condition ' + (i + 1), 'aria-describedby': 'cond-err-' + i});
        let op = opSelect(row, i);
        const value = h('input', {id: 'cond-value-' + i, value: row.value, 'aria-label': 'Value of condition ' + (i + 1), autocomplete: 'off', spellcheck: 'false',
          'aria-describedby': 'cond-err-' + i});
        const icId = 'cond-ic-' + i;
        const ic = h('input', {type: 'checkbox', id: icId, checked: !!row.ignore_case});
        const icLabel = h('label', {class: 'check', for: icId}, ic, 'Ignore case');
        const valueCell = h('div', {class: 'value-cell'}, value);
        const remove = h('button', {type: 'button', class: 'btn btn-ghost btn-icon remove', 'aria-label': 'Remove condition ' + (i + 1),
          onclick: () => { d.filters.splice(i, 1); drawRows(i > 0 ? 'cond-field-' + (i - 1) : 'add-condition'); changed('filters'); }}, '✕');
        const fit = () => {
          const type = fieldType(cat, row.field.trim());
          const o = S.ops[row.op] || {};
          // Cells that do not apply keep their place (the rows stay aligned) but are hidden and inert.
          const noValue = o.values === 'none';
          valueCell.classList.toggle('invisible', noValue);
          value.disabled = noValue;
          const noCase = !(o.ignore_case && (type === 'string' || type === 'timestamp' || type === null));
          icLabel.classList.toggle('invisible', noCase);
          ic.disabled = noCase;
          value.placeholder = o.values === 'many' ? 'value, value, …' : (type === 'timestamp' ? '2026-01-01T00:00:00+08:00' : (o.name && o.name.includes('regex') ? 'regular expression (RE2)' : 'value'));
        };
        const wire = (sel) => sel.addEventListener('change', (e) => { row.op = e.target.value; fit(); changed('filters[' + i + ']'); });
        wire(op);
        field.addEventListener('input', () => {
          row.field = field.value;
          const nop = opSelect(row, i);
          wire(nop);
          op.replaceWith(nop);
          op = nop;
          fit();
          changed('filters[' + i + ']');
        });
        value.addEventListener('input', () => { row.value = value.value; changed('filters[' + i + ']'); });
        ic.addEventListener('change', () => { row.ignore_case = ic.checked; changed('filters[' + i + ']'); });
        fit();
        form.register('filters[' + i + ']', [field, value], rowErr);
        return [i > 0 ? h('div', {class: 'and', 'aria-hidden': 'true'}, 'AND') : null,
          h('div', {class: 'filter-row', dataset: {row: i}}, field, op, valueCell, icLabel, remove, rowErr)];
      });
      fill(rowsBox, ...rows.flat().filter(Boolean));
      counter.textContent = d.filters.length + ' of ' + max + ' conditions';
      addBtn.disabled = d.filters.length >= max;
      if (focus) { const el = document.getElementById(focus); if (el) el.focus(); }
      form.show();
    }
    addBtn.addEventListener('click', () => {
      d.filters.push({field: '', op: 'equals', value: '', ignore_case: false});
      drawRows('cond-field-' + (d.filters.length - 1));
    });
    drawRows();
    return add(section, h('h2', {id: 'filter-title'}, 'Filter', h('span', {class: 'esa-name'}, 'FilterRules')),
      h('p', {class: 'muted'}, 'Deliver only the records that match every condition. Without a condition every (sampled) record is delivered. ' +
        'Several values (comma-separated) mean “any of” for the positive operators and “none of” for the negative ones.'),
      datalist, rowsBox, h('div', {class: 'picker-bar'}, addBtn, counter), err);
  }

  function customFieldsBlock(form, d, cat, changed) {
    if (!cat.custom_fields) return null;
    const cf = d.custom_fields;
    const max = S.catalog.custom_fields.max_per_kind;
    const area = (kind, label, ph) => {
      const ta = h('textarea', {id: 'cf-' + kind, rows: '2', placeholder: ph, spellcheck: 'false', value: cf[kind] || '',
        oninput: (e) => { cf[kind] = e.target.value; changed('custom_fields.' + kind); }});
      return block(form, {target: 'custom_fields.' + kind, label, input: ta, control: ta, help: 'One name a line; at most ' + max + '.'});
    };
    const err = h('p', {class: 'error', id: 'custom-fields-err'});
    form.register('custom_fields', null, err);
    return h('section', {class: 'section', 'aria-labelledby': 'cf-title'},
      h('h2', {id: 'cf-title'}, 'Custom fields', h('span', {class: 'esa-name'}, 'custom_fields')),
      h('p', {class: 'muted'}, 'Request and response headers and cookies, delivered in the record\'s CustomFields field (filters test them as CustomFields.request_headers.<name>). ' +
        'Leave them empty to use the site\'s custom log fields (CreateSiteCustomLog).'),
      h('div', {class: 'grid-3'}, area('request_headers', 'Request headers', 'user-agent\nx-request-id'),
        area('response_headers', 'Response headers', 'content-type'), area('cookies', 'Cookies', 'session_id')), err);
  }

  function logsEditor(form, d, cat, changed) {
    return [fieldPicker(form, d, cat, changed), samplingBlock(form, d, changed), filterEditor(form, d, cat, changed), customFieldsBlock(form, d, cat, changed)];
  }

  // ---------- Create: four steps ----------

  const STEPS = [
    {title: 'Basics', sub: 'Name and log category'},
    {title: 'Logs and fields', sub: 'Fields, sampling, filter'},
    {title: 'Destination', sub: 'Where records go'},
    {title: 'Destination details', sub: 'Parameters and review'},
  ];

  function newWizard() {
    const cat = S.catalog.categories[0];
    return {
      step: 1, reached: 1, touched: new Set(), attempted: new Set(), seq: 0, timer: null, result: null, created: null, busy: false,
      draft: {name: '', category: cat.name, site_id: '', data_center: '', fields: cat.fields.map((f) => f.name), sampling_rate: '100',
        filters: [], filter_rules: null, custom_fields: {request_headers: '', response_headers: '', cookies: ''}, delivery_type: '', delivery: {}},
      deliveries: {},
      form: null, error: null,
    };
  }

  function payload(W) {
    const d = W.draft;
    return Object.assign({}, d, {delivery: W.deliveries[d.delivery_type] || {}});
  }

  function showCreate(main) {
    document.title = 'Create delivery task · esa-connect console';
    const resumed = !!(S.wizard && !S.wizard.created && S.wizard.touched.size);
    if (!S.wizard || S.wizard.created) S.wizard = newWizard();
    const W = S.wizard;
    W.error = null;
    W.form = new Form((p) => p.step < W.step || W.attempted.has(p.step) || (p.step === W.step && W.touched.has(p.target)) ||
      (p.step === W.step && p.target.startsWith('filters[') && W.touched.has(p.target)));
    fill(main, 
      h('div', {class: 'page-head'},
        h('div', null, h('a', {class: 'crumb', href: '#/'}, '← Delivery tasks'), h('h1', {id: 'wizard-title'}, 'Create delivery task'),
          h('p', {class: 'muted'}, 'As in ESA\'s console: every step is checked as you type, with the same validation as the API and esa-connect run.'))),
      resumed ? h('div', {class: 'callout', id: 'draft-kept'}, 'Your draft of task ', h('strong', null, W.draft.name || '(no name yet)'), ' is kept. ',
        h('button', {type: 'button', class: 'btn btn-sm', id: 'start-over', onclick: () => { S.wizard = null; route(); }}, 'Start over')) : null,
      h('ol', {class: 'stepper', id: 'stepper', 'aria-label': 'Steps'}),
      h('div', {id: 'wizard-body'}));
    drawWizard();
  }

  function drawStepper() {
    const W = S.wizard;
    const ol = $('#stepper');
    if (!ol) return;
    const bad = new Set(W.form.problems.filter((p) => p.step < W.step || W.attempted.has(p.step)).map((p) => p.step));
    fill(ol, ...STEPS.map((s, i) => {
      const n = i + 1;
      const done = (n < W.step || W.created) && !bad.has(n);
      const cls = (done ? 'done' : '') + (bad.has(n) ? ' has-error' : '');
      return h('li', {class: cls},
        h('button', {type: 'button', id: 'step-' + n, 'aria-current': n === W.step && !W.created ? 'step' : null, disabled: n > W.reached || W.busy || !!W.created,
          onclick: () => goStep(n)},
        h('span', {class: 'num', 'aria-hidden': 'true'}, done ? '✓' : String(n)),
        h('span', null, h('span', {class: 'step-title'}, h('span', {class: 'sr-only'}, 'Step ' + n + ': '), s.title), h('span', {class: 'step-sub'}, s.sub))));
    }));
  }

  function goStep(n) {
    const W = S.wizard;
    W.step = n;
    W.reached = Math.max(W.reached, n);
    drawWizard();
    const first = $('#wizard-body input:not([type="hidden"]), #wizard-body select, #wizard-body textarea');
    if (first) first.focus();
  }

  function changedFn(W) {
    return (target) => {
      W.touched.add(target);
      validateSoon();
    };
  }

  function drawWizard() {
    const W = S.wizard;
    const body = $('#wizard-body');
    if (!body) return;
    W.form.reset();
    if (W.created) {
      drawStepper();
      fill(body, createdView(W.created));
      return;
    }
    const d = W.draft;
    const cat = S.cats[d.category] || S.catalog.categories[0];
    const changed = changedFn(W);
    const card = h('div', {class: 'card', id: 'step-card', dataset: {step: W.step}});
    const other = h('div', {id: 'step-problems'});
    W.form.other = other;
    if (W.step === 1) add(card, step1(W, changed));
    if (W.step === 2) add(card, h('h2', {class: 'sr-only'}, 'Logs and fields'), logsEditor(W.form, d, cat, changed));
    if (W.step === 3) add(card, step3(W, changed));
    if (W.step === 4) add(card, step4(W, changed));
    const back = h('button', {type: 'button', class: 'btn', id: 'wizard-back', disabled: W.step === 1 || W.busy, onclick: () => goStep(W.step - 1)}, '← Back');
    const next = W.step < 4
      ? h('button', {type: 'button', class: 'btn btn-primary', id: 'wizard-next', onclick: () => nextStep()}, 'Next: ' + STEPS[W.step].title + ' →')
      : h('button', {type: 'button', class: 'btn btn-primary', id: 'wizard-create', disabled: W.busy, onclick: () => createTask()}, W.busy ? 'Creating…' : 'Create task');
    const busy = h('span', {class: 'muted small', id: 'wizard-busy', role: 'status'}, W.busy ? 'serve starts the task and checks its destination (up to 20 s)…' : '');
    fill(body, other, W.error ? h('div', {class: 'callout error', role: 'alert', id: 'create-error'}, h('strong', null, 'Not created: '), W.error) : null,
      card, h('div', {class: 'wizard-actions'}, back, h('div', {class: 'right'}, busy, h('a', {class: 'btn btn-ghost', href: '#/'}, 'Cancel'), next)));
    drawStepper();
    W.form.show();
    if (W.step === 4) drawReview();
    validateSoon(0);
  }

  function step1(W, changed) {
    const d = W.draft;
    const name = h('input', {id: 'task-name', value: d.name, autocomplete: 'off', spellcheck: 'false', maxlength: '64', class: 'input-narrow', dataset: {autofocus: ''},
      placeholder: 'access-to-http', oninput: (e) => { d.name = e.target.value; changed('name'); }});
    const catErr = h('p', {class: 'error', id: 'category-err'});
    const radios = [];
    const cats = h('div', {class: 'options', role: 'radiogroup', 'aria-labelledby': 'category-legend'}, S.catalog.categories.map((c) => {
      const r = h('input', {type: 'radio', name: 'category', value: c.name, id: 'cat-' + c.name, checked: d.category === c.name,
        onchange: () => {
          if (d.category !== c.name) {
            d.category = c.name;
            d.fields = c.fields.map((f) => f.name);
            d.filters = [];
            d.filter_rules = null;
            d.custom_fields = {request_headers: '', response_headers: '', cookies: ''};
          }
          for (const el of radios) el.closest('.option').classList.toggle('selected', el.checked);
          site.hidden = c.scope !== 'site';
          changed('category');
        }});
      radios.push(r);
      return h('label', {class: 'option' + (d.category === c.name ? ' selected' : ''), for: 'cat-' + c.name}, r,
        h('span', null, h('span', {class: 'option-title'}, c.title, h('span', {class: 'pill'}, c.scope === 'site' ? 'site' : 'account')),
          h('span', {class: 'option-about'}, c.about)));
    }));
    W.form.register('category', radios, catErr);
    const siteInput = h('input', {id: 'site-id', value: d.site_id, inputmode: 'numeric', autocomplete: 'off', class: 'input-narrow', placeholder: '7301',
      oninput: (e) => { d.site_id = e.target.value; changed('site_id'); }});
    const site = block(W.form, {target: 'site_id', label: 'Site ID', esa: 'SiteId', required: true, input: siteInput, control: siteInput,
      help: 'The ESA site whose logs the task delivers (records POSTed to /v1/sites/{SiteId}/logs/{category}).'});
    site.hidden = (S.cats[d.category] || {}).scope !== 'site';
    const dc = h('select', {id: 'data-center', class: 'input-narrow', value: d.data_center, onchange: (e) => { d.data_center = e.target.value; changed('data_center'); }},
      S.catalog.data_centers.map((o) => h('option', {value: o.value}, o.label)));
    return [
      h('h2', {class: 'sr-only'}, 'Basics'),
      block(W.form, {target: 'name', label: 'Task name', esa: 'TaskName', required: true, input: name, control: name,
        help: '1–64 letters, digits, - and _, starting with a letter or digit. It cannot be changed later.'}),
      h('fieldset', {class: 'field'}, h('legend', {id: 'category-legend', class: 'req'}, 'Log category', h('span', {class: 'esa-name'}, 'BusinessType')),
        h('p', {class: 'help'}, 'Site categories deliver one site\'s logs; account categories the whole account\'s.'), cats, catErr),
      site,
      block(W.form, {target: 'data_center', label: 'Data center', esa: 'DataCenter', input: dc, control: dc,
        help: 'Optional metadata, as ESA records it: where the logs are produced.'}),
    ];
  }

  function step3(W, changed) {
    const d = W.draft;
    const err = h('p', {class: 'error', id: 'delivery-type-err'});
    const radios = [];
    const cards = h('div', {class: 'options', role: 'radiogroup', 'aria-labelledby': 'dest-legend'}, S.catalog.destinations.map((dest) => {
      const r = h('input', {type: 'radio', name: 'delivery-type', value: dest.type, id: 'dest-' + dest.type, checked: d.delivery_type === dest.type,
        onchange: () => {
          d.delivery_type = dest.type;
          if (!W.deliveries[dest.type]) W.deliveries[dest.type] = defaults(dest);
          for (const el of radios) el.closest('.option').classList.toggle('selected', el.checked);
          changed('delivery_type');
        }});
      radios.push(r);
      return h('label', {class: 'option' + (d.delivery_type === dest.type ? ' selected' : ''), for: 'dest-' + dest.type}, r,
        h('span', null, h('span', {class: 'option-title'}, dest.title, h('span', {class: 'esa-name'}, dest.type)), h('span', {class: 'option-about'}, dest.about)));
    }));
    W.form.register('delivery_type', radios, err);
    return h('fieldset', null, h('legend', {id: 'dest-legend', class: 'req'}, 'Destination type', h('span', {class: 'esa-name'}, 'DeliveryType')),
      h('p', {class: 'help'}, 'Where the task delivers its records. The next step asks for the destination\'s parameters.'), cards, err);
  }

  function defaults(dest) {
    const v = {};
    for (const p of dest.params) {
      if (p.default !== undefined && (p.kind === 'select' || p.kind === 'bool' || p.kind === 'number')) v[p.name] = p.kind === 'number' ? String(p.default) : p.default;
    }
    return v;
  }

  // paramsForm draws a destination's parameters; bool parameters show and hide the ones that depend on them.
  function paramsForm(form, dest, values, changed) {
    const box = h('div', {id: 'params'});
    const pid = (p) => 'p-' + p.name.replace(/\./g, '-');
    function control(p) {
      const id = pid(p);
      const target = 'delivery.' + p.name;
      const on = (v) => { values[p.name] = v; changed(target); };
      const label = p.label;
      switch (p.kind) {
        case 'bool': {
          const cb = h('input', {type: 'checkbox', id, checked: values[p.name] === undefined ? !!p.default : !!values[p.name],
            onchange: (e) => { on(e.target.checked); draw(id); }});
          const err = h('p', {class: 'error', id: id + '-err'});
          form.register(target, cb, err);
          return h('div', {class: 'field', dataset: {target}}, h('label', {class: 'check', for: id}, cb, h('span', null, label, h('span', {class: 'esa-name'}, p.name))),
            p.help ? h('p', {class: 'help check-help'}, p.help) : null, err);
        }
        case 'select': {
          const sel = h('select', {id, class: 'input-narrow', value: values[p.name] === undefined ? (p.default || '') : values[p.name],
            onchange: (e) => on(e.target.value)}, p.options.map((o) => h('option', {value: o}, o)));
          return block(form, {target, label, esa: p.name, required: p.required, input: sel, control: sel, help: p.help});
        }
        case 'list': {
          const ta = h('textarea', {id, rows: '3', placeholder: p.placeholder || '', spellcheck: 'false', value: values[p.name] || '',
            oninput: (e) => on(e.target.value)});
          return block(form, {target, label, esa: p.name, required: p.required, input: ta, control: ta, help: p.help});
        }
        case 'map': return mapEditor(form, p, values, changed);
        default: {
          const attrs = {id, value: values[p.name] === undefined ? '' : values[p.name], placeholder: p.placeholder || null, autocomplete: 'off', spellcheck: 'false',
            oninput: (e) => on(e.target.value)};
          if (p.kind === 'secret') Object.assign(attrs, {type: 'password', autocomplete: 'new-password'});
          if (p.kind === 'number') Object.assign(attrs, {type: 'number', min: p.min, max: p.max, step: p.step || 'any', inputmode: 'decimal', class: 'input-short'});
          const input = h('input', attrs);
          const help = p.kind === 'secret' ? (p.help ? p.help + ' ' : '') + 'Sent to serve once; never shown again.' : p.help;
          return block(form, {target, label, esa: p.name, required: p.required, input, control: input, help});
        }
      }
    }
    function draw(focusId) {
      form.reg.forEach((v, k) => { if (k.startsWith('delivery.')) form.reg.delete(k); });
      const shown = dest.params.filter((p) => !p.when || values[p.when] === true || (values[p.when] === undefined && dest.params.find((q) => q.name === p.when).default === true));
      const basic = shown.filter((p) => !p.advanced).map(control);
      const adv = shown.filter((p) => p.advanced).map(control);
      const wasOpen = box.querySelector('details') && box.querySelector('details').open;
      fill(box, h('div', {class: 'grid-2'}, basic),
        adv.length ? h('details', {class: 'advanced', open: wasOpen || adv.some((el) => el.querySelector('[aria-invalid="true"]'))},
          h('summary', null, 'Advanced settings (' + adv.length + ')'), h('div', {class: 'grid-2'}, adv)) : null);
      const err = h('p', {class: 'error', id: 'delivery-err'});
      form.register('delivery', null, err);
      box.append(err);
      if (focusId) { const el = document.getElementById(focusId); if (el) el.focus(); }
      form.show();
    }
    draw();
    return box;
  }

  function mapEditor(form, p, values, changed) {
    const target = 'delivery.' + p.name;
    const err = h('p', {class: 'error', id: 'p-' + p.name + '-err'});
    const rows = h('div', {class: 'pairs'});
    const addBtn = h('button', {type: 'button', class: 'btn btn-sm', id: 'p-' + p.name + '-add'}, '+ Add');
    if (!Array.isArray(values[p.name])) values[p.name] = [];
    const list = values[p.name];
    const inputs = [];
    function draw(focus) {
      inputs.length = 0;
      fill(rows, ...list.map((pair, i) => {
        const n = h('input', {id: 'p-' + p.name + '-name-' + i, value: pair.name, placeholder: 'Name', 'aria-label': p.label + ' ' + (i + 1) + ' name', autocomplete: 'off',
          oninput: (e) => { pair.name = e.target.value; changed(target); }});
        const v = h('input', {id: 'p-' + p.name + '-value-' + i, value: pair.value, placeholder: 'Value', 'aria-label': p.label + ' ' + (i + 1) + ' value', autocomplete: 'off',
          oninput: (e) => { pair.value = e.target.value; changed(target); }});
        inputs.push(n, v);
        return h('div', {class: 'pair'}, n, v, h('button', {type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': 'Remove ' + p.label + ' ' + (i + 1),
          onclick: () => { list.splice(i, 1); draw(addBtn.id); changed(target); }}, '✕'));
      }));
      addBtn.disabled = list.length >= p.max_items;
      form.register(target, inputs.slice(), err);
      if (focus) { const el = document.getElementById(focus); if (el) el.focus(); }
    }
    addBtn.addEventListener('click', () => { list.push({name: '', value: ''}); draw('p-' + p.name + '-name-' + (list.length - 1)); });
    draw();
    return h('div', {class: 'field'}, h('span', {class: 'label', id: 'p-' + p.name + '-label'}, p.label, h('span', {class: 'esa-name'}, p.name)),
      rows, addBtn, p.help ? h('p', {class: 'help'}, p.help) : null, err);
  }

  function step4(W, changed) {
    const d = W.draft;
    const dest = S.dests[d.delivery_type];
    if (!dest) {
      return [h('p', null, 'Choose a destination type first.'), h('button', {type: 'button', class: 'btn', onclick: () => goStep(3)}, '← Destination')];
    }
    if (!W.deliveries[dest.type]) W.deliveries[dest.type] = defaults(dest);
    return [
      h('h2', null, dest.title, h('span', {class: 'esa-name'}, dest.object)),
      h('p', {class: 'muted'}, dest.about),
      dest.note ? h('div', {class: 'callout' + (dest.ownership ? ' warn' : '')}, dest.note) : null,
      paramsForm(W.form, dest, W.deliveries[dest.type], changed),
      h('section', {class: 'section', id: 'review', 'aria-labelledby': 'review-title', 'aria-live': 'polite'}),
    ];
  }

  function drawReview() {
    const W = S.wizard;
    const el = $('#review');
    if (!el || W.step !== 4) return;
    const r = W.result;
    const key = r ? (r.valid ? r.yaml + r.pipeline : 'invalid:' + r.problems.length + ':' + W.attempted.has(4)) : 'none';
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    const title = h('h2', {id: 'review-title'}, 'Review');
    if (!r) { fill(el, title, h('p', {class: 'muted'}, 'Checking…')); return; }
    if (!r.valid) {
      fill(el, title, h('p', {class: 'muted', id: 'review-pending'}, 'The Benthos pipeline and the task YAML appear here once the task is complete' +
        (W.attempted.has(4) ? ': ' + r.problems.length + ' problem(s) left.' : '.')));
      return;
    }
    const d = W.draft;
    const cat = S.cats[d.category];
    const dest = S.dests[d.delivery_type];
    fill(el, title,
      h('dl', {class: 'kv summary', id: 'review-summary'},
        h('dt', null, 'Task'), h('dd', null, d.name),
        h('dt', null, 'Logs'), h('dd', null, cat.title + (cat.scope === 'site' ? ' of site ' + d.site_id : ' (account)')),
        h('dt', null, 'Fields'), h('dd', null, d.fields.length + ': ' + d.fields.slice(0, 6).join(', ') + (d.fields.length > 6 ? ', …' : '')),
        h('dt', null, 'Sampling'), h('dd', null, (d.sampling_rate || '100') + ' %'),
        h('dt', null, 'Filter'), h('dd', null, d.filter_rules ? 'filter JSON' : (d.filters.length ? d.filters.length + ' condition(s)' : 'none: every record')),
        h('dt', null, 'Destination'), h('dd', null, dest.title)),
      h('div', {class: 'review'},
        codeBlock('Task (ESA\'s shape, secrets masked)', r.yaml, 'task YAML'),
        codeBlock('Benthos pipeline (esa-connect translate)', r.pipeline, 'pipeline')));
  }

  function validateSoon(delay) {
    const W = S.wizard;
    if (!W) return;
    clearTimeout(W.timer);
    W.timer = setTimeout(() => validateNow(), delay === undefined ? 300 : delay);
  }

  async function validateNow() {
    const W = S.wizard;
    if (!W || W.created) return null;
    clearTimeout(W.timer);
    const seq = ++W.seq;
    const r = await api('POST', '/validate', payload(W));
    if (seq !== W.seq || S.wizard !== W) return null;
    if (!r.ok) { toast('Validation failed: ' + errText(r), true); return null; }
    W.result = r.data;
    W.form.problems = r.data.problems;
    W.form.show();
    drawStepper();
    drawReview();
    return r.data;
  }

  async function nextStep() {
    const W = S.wizard;
    const res = await validateNow();
    if (!res) return;
    const mine = res.problems.filter((p) => p.step <= W.step);
    if (mine.length) {
      for (let s = 1; s <= W.step; s++) W.attempted.add(s);
      W.form.show();
      drawStepper();
      const first = mine[0];
      if (first.step < W.step) { goStep(first.step); W.form.show(); }
      const el = W.form.firstInvalid();
      if (el && el.focus) el.focus();
      return;
    }
    goStep(W.step + 1);
  }

  async function createTask() {
    const W = S.wizard;
    const res = await validateNow();
    if (!res) return;
    [1, 2, 3, 4].forEach((s) => W.attempted.add(s));
    if (!res.valid) {
      const first = res.problems[0];
      W.error = null;
      if (first.step !== W.step) goStep(first.step);
      else { W.form.show(); drawStepper(); drawReview(); }
      const el = W.form.firstInvalid();
      if (el && el.focus) el.focus();
      return;
    }
    W.busy = true;
    W.error = null;
    drawWizard();
    const r = await api('POST', '/tasks', payload(W));
    W.busy = false;
    if (!r.ok) {
      W.error = errText(r);
      if (r.data.problems) W.form.problems = r.data.problems;
      const first = (r.data.problems || [])[0];
      drawWizard();
      if (first && first.step && first.step !== W.step) goStep(first.step);
      const box = $('#create-error');
      if (box) box.scrollIntoView({block: 'center'});
      const el = W.form.firstInvalid();
      if (el && el.focus) el.focus();
      return;
    }
    W.created = r.data;
    drawWizard();
    const head = $('#created-title');
    if (head) head.focus();
  }

  function createdView(t) {
    const pending = t.status === 'pending_verification';
    const ingest = t.scope === 'site' ? '/v1/sites/' + t.site_id + '/logs/' + t.category : '/v1/logs/' + t.category;
    const mark = h('span', {class: 'mark' + (pending ? ' pending' : ''), 'aria-hidden': 'true'}, pending ? '…' : '✓');
    const state = h('p', {id: 'created-state'});
    const say = (item) => fill(state, badge(item), ' ', item.status === 'pending_verification'
      ? 'It waits, offline, for the proof that you own the bucket.' : 'It delivers to ' + item.destination_title + ' now.');
    say(t);
    return h('div', {class: 'card', id: 'created'},
      h('div', {class: 'created-head'}, mark,
        h('div', null,
          h('h2', {id: 'created-title', tabindex: '-1'}, 'Task ' + t.name + ' created'),
          state,
          h('p', {class: 'muted'}, 'Records POSTed to serve\'s ingest ', h('code', {id: 'ingest-path'}, 'POST ' + ingest), ' reach every online task of the ' +
            (t.scope === 'site' ? 'site and ' : '') + 'category.'))),
      pending ? ownershipCard(t, (item) => {
        Object.assign(t, item);
        mark.textContent = '✓';
        mark.classList.remove('pending');
        say(t);
      }) : null,
      h('div', {class: 'wizard-actions'},
        h('a', {class: 'btn btn-primary', href: '#/', id: 'to-tasks'}, 'Go to delivery tasks'),
        h('div', {class: 'right'}, h('a', {class: 'btn', href: '#/tasks/' + enc(t.name)}, 'Open task'),
          h('button', {type: 'button', class: 'btn', onclick: () => { S.wizard = null; route(); }}, 'Create another task'))));
  }

  // ownershipCard: the challenge object's path and the token field of an AWS S3 / S3-compatible task.
  function ownershipCard(t, verified) {
    const tokenId = nextId('token');
    const input = h('input', {id: tokenId, autocomplete: 'off', spellcheck: 'false', placeholder: 'v1.…', 'aria-describedby': tokenId + '-err'});
    const err = h('p', {class: 'error', id: tokenId + '-err', 'aria-live': 'polite'});
    const btn = h('button', {type: 'button', class: 'btn btn-primary', id: 'verify-ownership'}, 'Verify');
    const done = h('div', {role: 'status'});
    const box = h('section', {class: 'ownership callout warn', id: 'ownership', 'aria-labelledby': tokenId + '-title'},
      h('h3', {id: tokenId + '-title'}, 'Verify bucket ownership'),
      h('ol', null,
        h('li', null, 'Read the challenge object that serve wrote into the bucket:',
          h('div', {class: 'copy-line'}, h('code', {id: 'challenge-path'}, t.challenge || t.reason), copyButton(() => t.challenge || t.reason, 'challenge object path')),
          h('p', {class: 'help'}, 'For example ', h('code', null, 'aws s3 cp ' + (t.challenge || 's3://…') + ' -'),
            t.delivery_type === 'aws3cmpt' ? ' with --endpoint-url of your store' : null, '. The token is good for 7 days.')),
        h('li', null, h('label', {for: tokenId}, 'Paste its content, the ownership token:'),
          h('div', {class: 'token-row'}, input, btn), err)),
      done);
    const go = async () => {
      err.textContent = '';
      input.setAttribute('aria-invalid', 'false');
      if (!input.value.trim()) { err.textContent = 'Paste the content of the challenge object.'; input.setAttribute('aria-invalid', 'true'); input.focus(); return; }
      btn.disabled = true;
      btn.textContent = 'Verifying…';
      const r = await api('POST', '/tasks/' + enc(t.name) + '/verify', {token: input.value.trim()});
      btn.disabled = false;
      btn.textContent = 'Verify';
      if (!r.ok) {
        err.textContent = errText(r);
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      box.classList.remove('warn');
      box.classList.add('ok');
      fill(box, h('h3', {tabindex: '-1', id: 'ownership-verified'}, 'Ownership verified'), h('p', null, badge(r.data), ' The task is online.'));
      $('#ownership-verified').focus();
      verified(r.data);
    };
    btn.addEventListener('click', go);
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
    return box;
  }

  // ---------- A task's page ----------

  async function showTask(main, name) {
    document.title = name + ' · esa-connect console';
    fill(main, h('p', {class: 'loading muted'}, 'Loading ' + name + '…'));
    const r = await api('GET', '/tasks/' + enc(name));
    if (!r.ok) {
      fill(main, h('a', {class: 'crumb', href: '#/'}, '← Delivery tasks'),
        h('div', {class: 'card empty'}, h('h1', null, 'Task ' + name), h('p', {class: 'muted'}, errText(r))));
      return;
    }
    let t = r.data;
    const cat = S.cats[t.category];
    const E = {draft: {fields: (t.field_list || []).slice(), sampling_rate: t.sampling_rate_text, filters: (t.filter_rows || []).map((x) => Object.assign({}, x)),
      filter_rules: t.filter_grouped ? t.filter_rules : null, custom_fields: Object.assign({request_headers: '', response_headers: '', cookies: ''}, t.custom_fields)},
    seq: 0, timer: null, result: null};
    const original = JSON.stringify(E.draft);
    const form = new Form();
    const head = h('div', {class: 'page-head'});
    const healthCard = h('section', {class: 'card', 'aria-labelledby': 'health-title'});
    const saveBtn = h('button', {type: 'button', class: 'btn btn-primary', id: 'save-task', disabled: true}, 'Save changes');
    const resetBtn = h('button', {type: 'button', class: 'btn', id: 'reset-task', disabled: true}, 'Undo changes');
    const saveNote = h('span', {class: 'muted small', role: 'status', id: 'save-note'});
    const other = h('div');
    form.other = other;
    const codes = h('section', {class: 'card', id: 'task-code', 'aria-label': 'Pipeline and task YAML'});

    function drawHead() {
      const actions = [];
      if (t.status === 'offline') actions.push(h('button', {type: 'button', class: 'btn', id: 'resume-task', onclick: async () => { if (await setStatus(t, 'online')) refresh(); }}, 'Resume'));
      else if (t.status !== 'pending_verification') actions.push(h('button', {type: 'button', class: 'btn', id: 'pause-task', onclick: async () => { if (await setStatus(t, 'offline')) refresh(); }}, 'Pause'));
      actions.push(h('button', {type: 'button', class: 'btn btn-danger', id: 'delete-task', onclick: async () => { if (await deleteTask(t)) location.hash = '#/'; }}, 'Delete'));
      const keep = document.activeElement && head.contains(document.activeElement) ? document.activeElement.id : null;
      fill(head, 
        h('div', null, h('a', {class: 'crumb', href: '#/'}, '← Delivery tasks'),
          h('h1', null, t.name, ' ', badge(t)),
          h('p', {class: 'muted'}, (t.category_title || t.category) + (t.site_id ? ' of site ' + t.site_id : ' (account)') + ' → ' + (t.destination_title || '') + ' ', h('code', null, t.destination))),
        h('div', {class: 'page-actions'}, actions));
      const again = keep && document.getElementById(keep);
      if (again) again.focus();
      else if (keep) { const other = head.querySelector('.page-actions button'); if (other) other.focus(); }
    }
    function drawHealth() {
      const hl = t.health || {};
      fill(healthCard, h('h2', {id: 'health-title'}, 'Health'),
        h('div', {class: 'health-cell'}, healthLines(hl, t)),
        t.reason && t.status !== 'pending_verification' ? h('p', {class: 'reason'}, t.reason) : null,
        h('div', {class: 'stats'},
          h('div', {class: 'stat'}, h('b', {dataset: {count: 'in'}}, fmt(hl.records_in)), h('span', null, 'records in')),
          h('div', {class: 'stat'}, h('b', {dataset: {count: 'delivered'}}, fmt(hl.records_delivered)), h('span', null, 'delivered')),
          h('div', {class: 'stat'}, h('b', {dataset: {count: 'failed'}, class: hl.records_failed ? 'bad' : null}, fmt(hl.records_failed)), h('span', null, 'failed')),
          h('div', {class: 'stat'}, h('b', null, fmt(hl.records_sampled_out)), h('span', null, 'sampled out')),
          h('div', {class: 'stat'}, h('b', null, fmt(hl.records_filtered_out)), h('span', null, 'filtered out')),
          h('div', {class: 'stat'}, h('b', null, fmt(hl.records_invalid)), h('span', null, 'invalid'))));
    }
    function settingsCard() {
      const sink = t.sink || {};
      const rows = [];
      const show = (k, v) => {
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          for (const [sk, sv] of Object.entries(v)) show(k + '.' + sk, sv);
          return;
        }
        rows.push(h('dt', null, h('code', null, k)), h('dd', {dataset: {member: k}}, Array.isArray(v) ? v.join(', ') : String(v)));
      };
      for (const [k, v] of Object.entries(sink).sort()) show(k, v);
      return h('section', {class: 'card', 'aria-labelledby': 'settings-title'}, h('h2', {id: 'settings-title'}, 'Settings'),
        h('dl', {class: 'kv', id: 'task-settings'},
          h('dt', null, 'Category'), h('dd', null, (t.category_title || t.category) + ' ', h('span', {class: 'pill'}, t.scope || '')),
          t.site_id ? [h('dt', null, 'Site'), h('dd', null, String(t.site_id))] : null,
          t.data_center ? [h('dt', null, 'Data center'), h('dd', null, t.data_center)] : null,
          h('dt', null, 'Destination'), h('dd', null, (t.destination_title || '') + ' ', h('span', {class: 'esa-name'}, t.delivery_type)),
          rows),
        h('p', {class: 'help'}, 'Secrets show as set or not set; they are never sent to the browser. To change the destination, create a new task.'));
    }
    function drawCodes(pipelineText, yamlText) {
      fill(codes, h('h2', null, 'Pipeline and task YAML'),
        h('p', {class: 'muted'}, E.result && E.result.valid && JSON.stringify(E.draft) !== original ? 'As the unsaved changes would make it.' : 'As the task runs now.'),
        h('div', {class: 'review'}, codeBlock('Task (ESA\'s shape, secrets masked)', yamlText, 'task YAML'), codeBlock('Benthos pipeline (esa-connect translate)', pipelineText, 'pipeline')));
    }
    const dirty = () => JSON.stringify(E.draft) !== original;
    async function check() {
      const seq = ++E.seq;
      const res = await api('POST', '/tasks/' + enc(t.name) + '/validate', E.draft);
      if (seq !== E.seq) return null;
      if (!res.ok) { saveNote.textContent = errText(res); return null; }
      E.result = res.data;
      form.problems = res.data.problems;
      form.show();
      saveBtn.disabled = !dirty() || !res.data.valid;
      resetBtn.disabled = !dirty();
      saveNote.textContent = !dirty() ? '' : (res.data.valid ? 'Unsaved changes.' : res.data.problems.length + ' problem(s) to fix before saving.');
      if (res.data.valid) drawCodes(res.data.pipeline, res.data.yaml);
      return res.data;
    }
    const changed = () => { saveBtn.disabled = true; resetBtn.disabled = !dirty(); clearTimeout(E.timer); E.timer = setTimeout(check, 300); };
    saveBtn.addEventListener('click', async () => {
      const res = await check();
      if (!res || !res.valid) { const el = form.firstInvalid(); if (el && el.focus) el.focus(); return; }
      saveBtn.disabled = true;
      saveNote.textContent = 'Saving…';
      const u = await api('PATCH', '/tasks/' + enc(t.name), E.draft);
      if (!u.ok) {
        saveNote.textContent = 'Not saved: ' + errText(u);
        if (u.data.problems) { form.problems = u.data.problems; form.show(); }
        saveBtn.disabled = false;
        return;
      }
      const what = (u.data.changed || []).map((k) => ({FieldName: 'fields', DiscardRate: 'sampling rate', FilterRules: 'filter', custom_fields: 'custom fields'}[k] || k));
      toast(what.length ? 'Task ' + t.name + ' updated: ' + what.join(', ') + '.' : 'Nothing changed.');
      showTask(main, name);
    });
    resetBtn.addEventListener('click', () => showTask(main, name));

    async function refresh() {
      const rr = await api('GET', '/tasks/' + enc(name));
      if (!healthCard.isConnected) return;
      if (!rr.ok) return;
      const was = t.status;
      t = Object.assign(t, {status: rr.data.status, reason: rr.data.reason, health: rr.data.health, challenge: rr.data.challenge});
      if (was !== t.status) drawHead();
      drawHealth();
      if (was === 'pending_verification' && t.status !== 'pending_verification') { const o = $('#ownership'); if (o && !o.classList.contains('ok')) o.remove(); }
    }

    drawHead();
    drawHealth();
    drawCodes(t.pipeline, t.yaml);
    const editCard = cat
      ? h('section', {class: 'card', id: 'edit-card', 'aria-labelledby': 'edit-title'},
        h('div', {class: 'card-head'}, h('h2', {id: 'edit-title'}, 'Logs and fields'),
          h('span', {class: 'muted small'}, 'Saved with UpdateSiteDeliveryTask, sending only what changed.')),
        other, logsEditor(form, E.draft, cat, changed),
        h('div', {class: 'wizard-actions'}, saveNote, h('div', {class: 'right'}, resetBtn, saveBtn)))
      : h('section', {class: 'card'}, h('p', {class: 'callout error'}, t.problem || 'This task does not load.'));
    fill(main, head,
      t.status === 'pending_verification' ? ownershipCard(t, () => refresh()) : null,
      h('div', {class: 'detail'}, h('div', null, editCard, codes), h('div', {class: 'side'}, healthCard, settingsCard())));
    startPolling(refresh);
  }

  // ---------- Boot ----------

  function navCurrent(hash) {
    $('#nav-tasks').toggleAttribute('aria-current', hash === '#/' || hash.startsWith('#/tasks'));
    if ($('#nav-tasks').hasAttribute('aria-current')) $('#nav-tasks').setAttribute('aria-current', 'page');
    $('#nav-create').toggleAttribute('aria-current', hash === '#/create');
    if ($('#nav-create').hasAttribute('aria-current')) $('#nav-create').setAttribute('aria-current', 'page');
  }

  let first = true;
  function route() {
    stopPolling();
    const hash = location.hash || '#/';
    const main = $('#main');
    navCurrent(hash);
    if (hash === '#/create') showCreate(main);
    else {
      const m = hash.match(/^#\/tasks\/([^/]+)$/);
      if (m) showTask(main, decodeURIComponent(m[1]));
      else showTasks(main);
    }
    if (!first) (main.querySelector('[data-autofocus]') || main).focus({preventScroll: false});
    first = false;
    window.scrollTo(0, 0);
  }

  async function boot() {
    const [sr, cr] = await Promise.all([api('GET', '/session'), api('GET', '/catalog')]);
    if (!sr.ok || !cr.ok) {
      fill($('#main'), h('div', {class: 'callout error'}, 'The console could not start: ' + errText(sr.ok ? cr : sr)));
      return;
    }
    S.session = sr.data;
    S.catalog = cr.data;
    for (const c of S.catalog.categories) S.cats[c.name] = c;
    for (const d of S.catalog.destinations) S.dests[d.type] = d;
    for (const o of S.catalog.operators) S.ops[o.name] = o;
    $('#user-key').textContent = S.session.access_key_id;
    $('#signout').addEventListener('click', async () => {
      await api('POST', '/signout');
      location.assign('/console/signin');
    });
    window.addEventListener('hashchange', route);
    // "Create task" while the create flow shows a created task starts a new one.
    $('#nav-create').addEventListener('click', () => { if (location.hash === '#/create') { S.wizard = null; route(); } });
    route();
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
