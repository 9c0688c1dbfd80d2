// The job form generated from a pipeline's form.json (normalized by the server: every
// property has title, description, type and required). The browser checks types, bounds and
// required fields before sending; the server checks them again on POST /api/v1/jobs.
import { h } from './lib.js';

function choices(prop) {
  return Array.isArray(prop.enum) ? prop.enum : [];
}

// Renders the fields into a fragment; returns {node, read()} where read() gives
// {values, errors} and marks invalid fields.
export function buildForm(form, { idPrefix = 'p', disabled = false } = {}) {
  const props = (form && form.properties) || {};
  const keys = Object.keys(props);
  const fields = [];
  const node = h('div', { class: 'generated-form' });
  if (keys.length === 0) {
    node.append(h('p', { class: 'muted' }, 'This pipeline takes no parameters.'));
  }
  for (const key of keys) {
    const p = props[key];
    const id = idPrefix + '-' + key;
    const helpId = id + '-help';
    const errId = id + '-error';
    const err = h('p', { class: 'error', id: errId, hidden: true });
    const describedBy = (p.description ? helpId + ' ' : '') + errId;
    let control;
    const title = (p.title || key) + (p.required ? ' (required)' : '');
    if (p.type === 'boolean') {
      control = h('input', { type: 'checkbox', id, name: key, checked: p.default === true, disabled,
        'aria-describedby': describedBy });
      fields.push({ key, p, control, err });
      node.append(h('div', { class: 'field' },
        h('label', { class: 'check', for: id }, control, title),
        p.description ? h('p', { class: 'help', id: helpId }, p.description) : null, err));
      continue;
    }
    if (p.type === 'enum') {
      const list = choices(p);
      const placeholderLeft = typeof p.enum === 'string' || (list.length === 1 && /^__.*__$/.test(list[0]));
      control = h('select', { id, name: key, disabled, 'aria-describedby': describedBy,
        required: p.required },
        h('option', { value: '' }, placeholderLeft ? 'Choose the input files first' :
          (list.length ? '— choose —' : 'Nothing to choose from')),
        placeholderLeft ? [] : list.map((c) => h('option', { value: JSON.stringify(c),
          selected: p.default !== undefined && p.default !== null && c === p.default }, String(c))));
    } else {
      const numeric = p.type === 'integer' || p.type === 'number';
      control = h('input', {
        type: numeric ? 'number' : 'text', id, name: key, disabled,
        inputmode: p.type === 'integer' ? 'numeric' : undefined,
        step: p.type === 'integer' ? '1' : (numeric ? 'any' : undefined),
        min: p.minimum ?? undefined, max: p.maximum ?? undefined,
        required: p.required, 'aria-describedby': describedBy,
        value: p.default !== undefined && p.default !== null ? String(p.default) : '',
      });
    }
    fields.push({ key, p, control, err });
    let hint = p.description || '';
    if (p.minimum !== undefined && p.minimum !== null || p.maximum !== undefined && p.maximum !== null) {
      hint += (hint ? ' ' : '') + '(' + [p.minimum != null ? 'at least ' + p.minimum.toLocaleString() : '',
        p.maximum != null ? 'at most ' + p.maximum.toLocaleString() : ''].filter(Boolean).join(', ') + ')';
    }
    node.append(h('div', { class: 'field' }, h('label', { for: id }, title), control,
      hint ? h('p', { class: 'help', id: helpId }, hint) : null, err));
  }

  function read() {
    const values = {};
    const errors = [];
    for (const { key, p, control, err } of fields) {
      let problem = '';
      if (p.type === 'boolean') {
        values[key] = control.checked;
      } else if (p.type === 'enum') {
        if (control.value === '') {
          if (p.required) problem = 'Choose a value.';
        } else values[key] = JSON.parse(control.value);
      } else {
        const raw = control.value.trim();
        if (control.validity.badInput) {
          problem = 'Enter a number.';
        } else if (raw === '') {
          if (p.required) problem = 'This field is required.';
        } else if (p.type === 'string') {
          values[key] = control.value;
        } else {
          const n = Number(raw);
          if (!Number.isFinite(n)) problem = 'Enter a number.';
          else if (p.type === 'integer' && !Number.isInteger(n)) problem = 'Enter a whole number.';
          else if (p.minimum != null && n < p.minimum) problem = 'Must be at least ' + p.minimum.toLocaleString() + '.';
          else if (p.maximum != null && n > p.maximum) problem = 'Must be at most ' + p.maximum.toLocaleString() + '.';
          else values[key] = n;
        }
      }
      err.textContent = problem;
      err.hidden = !problem;
      if (problem) {
        control.setAttribute('aria-invalid', 'true');
        errors.push({ key, control, problem });
      } else control.removeAttribute('aria-invalid');
    }
    return { values, errors };
  }
  return { node, read };
}
