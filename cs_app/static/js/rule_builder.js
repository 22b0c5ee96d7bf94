// Rule builder: clause rows and groups for the condition, rows for the actions, kept in step
// with the JSON textareas the form posts. Without this script those textareas are edited
// directly and the server says the same things about them; with it they stay available
// behind "Edit as JSON".
(() => {
  "use strict";

  const NO_VALUE = new Set(["is_null", "not_null"]);
  const LISTS = new Set(["in", "not_in"]);
  const OPS_BY_KIND = {
    number: ["=", "!=", ">", ">=", "<", "<=", "between", "in", "not_in", "is_null", "not_null"],
    category: ["=", "!=", "in", "not_in", "is_null", "not_null"],
    boolean: ["=", "!=", "is_null", "not_null"],
  };
  const GROUP_KINDS = [
    ["all", "ALL of these are true", "AND"],
    ["any", "ANY of these is true", "OR"],
    ["none", "NONE of these is true", "OR"],
  ];
  const METRIC = "__metric__";

  // --- small DOM helpers ---------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([name, value]) => {
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (name === "text") {
        node.textContent = value;
      } else if (name === "className") {
        node.className = value;
      } else if (value === true) {
        node.setAttribute(name, "");
      } else {
        node.setAttribute(name, String(value));
      }
    });
    (children || []).forEach((child) => {
      if (child !== null && child !== undefined) {
        node.append(child);
      }
    });
    return node;
  }

  function select(attrs, options, current) {
    const node = el("select", attrs);
    options.forEach((option) => {
      if (option.group) {
        const group = el("optgroup", { label: option.group });
        option.options.forEach((inner) => group.append(optionNode(inner, current)));
        node.append(group);
      } else {
        node.append(optionNode(option, current));
      }
    });
    return node;
  }

  function optionNode([value, label], current) {
    const node = el("option", { value, text: label });
    if (String(current) === String(value)) {
      node.selected = true;
    }
    return node;
  }

  function button(label, className, title) {
    return el("button", { type: "button", className, text: label, title, "aria-label": title });
  }

  function labelled(labelText, control, className) {
    const id = `rb-${Math.random().toString(36).slice(2, 10)}`;
    control.id = id;
    return el("div", { className: `rb-field ${className || ""}` }, [
      el("label", { for: id, text: labelText }), control,
    ]);
  }

  // A number when the text is one; otherwise the text itself, so the server names the mistake.
  function parseNumber(text) {
    const trimmed = String(text).trim();
    if (trimmed === "") {
      return null;
    }
    const number = Number(trimmed.replace(",", "."));
    return Number.isFinite(number) ? number : trimmed;
  }

  function show(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  // --- the condition tree --------------------------------------------------------------

  function nodeFromJSON(node) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) {
      throw new Error("each node is an object");
    }
    for (const kind of ["all", "any"]) {
      if (kind in node) {
        if (!Array.isArray(node[kind])) {
          throw new Error(`${kind} needs a list`);
        }
        return { type: "group", kind, children: node[kind].map(nodeFromJSON) };
      }
    }
    if ("not" in node) {
      const inner = node.not;
      if (inner && typeof inner === "object" && Array.isArray(inner.any)) {
        return { type: "group", kind: "none", children: inner.any.map(nodeFromJSON) };
      }
      return { type: "group", kind: "none", children: [nodeFromJSON(inner)] };
    }
    return { type: "clause", signal: show(node.signal), op: node.op || "=", value: node.value ?? null };
  }

  function rootFromJSON(json) {
    const node = nodeFromJSON(json);
    return node.type === "group" ? node : { type: "group", kind: "all", children: [node] };
  }

  // The JSON the form posts; records on each node the path the server uses for it.
  function nodeToJSON(node, path) {
    node.path = path;
    if (node.type === "clause") {
      const clause = { signal: node.signal, op: node.op };
      if (!NO_VALUE.has(node.op)) {
        clause.value = node.value;
      }
      return clause;
    }
    if (node.kind === "none") {
      if (node.children.length === 1) {
        return { not: nodeToJSON(node.children[0], `${path}.not`) };
      }
      return { not: { any: node.children.map((c, i) => nodeToJSON(c, `${path}.not.any[${i}]`)) } };
    }
    return { [node.kind]: node.children.map((c, i) => nodeToJSON(c, `${path}.${node.kind}[${i}]`)) };
  }

  class ConditionBuilder {
    constructor(catalog, mount, textarea, errors) {
      this.catalog = catalog;
      this.mount = mount;
      this.textarea = textarea;
      this.errors = errors;
      this.signals = new Map(catalog.signals.map((s) => [s.key, s]));
      this.opLabels = new Map(catalog.operators.map((o) => [o.op, o.label]));
    }

    load() {
      const text = this.textarea.value.trim();
      this.root = rootFromJSON(text ? JSON.parse(text) : { all: [] });
      if (!this.root.children.length) {
        this.root.children.push(this.blankClause());
      }
    }

    blankClause() {
      return { type: "clause", signal: "", op: ">", value: null };
    }

    kindOf(signal) {
      if (signal.startsWith(this.catalog.metric_prefix)) {
        return "number";
      }
      const info = this.signals.get(signal);
      return info ? info.kind : null;
    }

    sync() {
      this.textarea.value = JSON.stringify(nodeToJSON(this.root, "condition"), null, 2);
    }

    changed(rerender) {
      this.sync();
      if (rerender) {
        this.render();
      }
    }

    render() {
      this.sync(); // assigns the paths the error marks use
      this.mount.replaceChildren(this.groupNode(this.root, null));
      this.markErrors();
    }

    markErrors() {
      Object.entries(this.errors).forEach(([path, message]) => {
        if (!path.startsWith("condition")) {
          return;
        }
        let target = null;
        let best = -1;
        this.mount.querySelectorAll("[data-path]").forEach((node) => {
          const own = node.getAttribute("data-path");
          if ((path === own || path.startsWith(`${own}.`)) && own.length > best) {
            target = node;
            best = own.length;
          }
        });
        if (target) {
          target.classList.add("has-error");
          const slot = target.querySelector(":scope > .row-error");
          if (slot) {
            slot.textContent = message;
            slot.hidden = false;
          }
        }
      });
    }

    groupNode(group, parent) {
      const joiner = GROUP_KINDS.find(([kind]) => kind === group.kind)[2];
      const kindSelect = select({ className: "group-kind", "aria-label": "Group type" },
        GROUP_KINDS.map(([kind, label]) => [kind, label]), group.kind);
      kindSelect.addEventListener("change", () => {
        group.kind = kindSelect.value;
        this.changed(true);
      });
      const head = el("div", { className: "group-head" }, [kindSelect]);
      if (parent) {
        const remove = button("Remove group", "linkbutton danger remove-group", "Remove this group");
        remove.addEventListener("click", () => {
          parent.children.splice(parent.children.indexOf(group), 1);
          this.changed(true);
        });
        head.append(remove);
      }
      const list = el("ol", { className: "group-children", "data-joiner": joiner });
      group.children.forEach((child) => {
        list.append(child.type === "group"
          ? el("li", { className: "nested" }, [this.groupNode(child, group)])
          : this.clauseNode(child, group));
      });
      if (!group.children.length) {
        list.append(el("li", { className: "empty-group muted", text: "No clauses yet: add one." }));
      }
      const addClause = button("+ Clause", "add-clause", "Add a clause to this group");
      addClause.addEventListener("click", () => {
        group.children.push(this.blankClause());
        this.changed(true);
        const rows = this.mount.querySelectorAll(".cond-clause .clause-signal");
        if (rows.length) {
          rows[rows.length - 1].focus();
        }
      });
      const addGroup = button("+ Group", "add-group", "Add a nested group of clauses");
      addGroup.addEventListener("click", () => {
        group.children.push({ type: "group", kind: group.kind === "all" ? "any" : "all",
          children: [this.blankClause()] });
        this.changed(true);
      });
      return el("div", { className: `cond-group kind-${group.kind}`, "data-path": group.path }, [
        head, list, el("div", { className: "group-actions" }, [addClause, addGroup]),
        el("p", { className: "row-error field-error", hidden: true }),
      ]);
    }

    signalOptions(clause) {
      const groups = this.catalog.kinds.map(({ kind, title }) => ({
        group: title,
        options: this.catalog.signals.filter((s) => s.kind === kind).map((s) => [s.key, s.label]),
      }));
      const options = [["", "Choose a signal…"], ...groups,
        { group: "Pushed metric", options: [[METRIC, "Metric by key…"]] }];
      const isMetric = clause.signal.startsWith(this.catalog.metric_prefix);
      if (clause.signal && !isMetric && !this.signals.has(clause.signal)) {
        options.push([clause.signal, `${clause.signal} (unknown)`]);
      }
      return { options, current: isMetric ? METRIC : clause.signal };
    }

    clauseNode(clause, group) {
      const kind = this.kindOf(clause.signal);
      const { options, current } = this.signalOptions(clause);
      const signal = select({ className: "clause-signal", "aria-label": "Signal" }, options, current);
      const parts = [signal];
      const isMetric = current === METRIC;
      if (isMetric) {
        const metric = el("input", {
          type: "text", className: "clause-metric", "aria-label": "Metric key",
          placeholder: "metric key", spellcheck: "false",
          value: clause.signal.slice(this.catalog.metric_prefix.length),
        });
        metric.addEventListener("input", () => {
          clause.signal = this.catalog.metric_prefix + metric.value.trim();
          this.changed(false);
        });
        parts.push(metric);
      }
      signal.addEventListener("change", () => {
        const before = this.kindOf(clause.signal);
        clause.signal = signal.value === METRIC ? this.catalog.metric_prefix : signal.value;
        const after = this.kindOf(clause.signal);
        if (before !== after) {
          clause.value = after === "boolean" ? true : null;
        }
        const allowed = OPS_BY_KIND[after] || OPS_BY_KIND.number;
        if (!allowed.includes(clause.op)) {
          clause.op = "=";
        }
        this.changed(true);
        const focusOn = signal.value === METRIC ? ".clause-metric" : ".clause-op";
        const row = this.mount.querySelectorAll(".cond-clause")[this.clauseIndex(clause)];
        if (row && row.querySelector(focusOn)) {
          row.querySelector(focusOn).focus();
        }
      });
      const ops = (OPS_BY_KIND[kind] || OPS_BY_KIND.number).slice();
      if (!ops.includes(clause.op)) {
        ops.push(clause.op);
      }
      const op = select({ className: "clause-op", "aria-label": "Operator" },
        ops.map((o) => [o, `${o === "!=" ? "≠" : o} · ${this.opLabels.get(o) || "unknown"}`]),
        clause.op);
      op.addEventListener("change", () => {
        const wasList = LISTS.has(clause.op);
        const wasBetween = clause.op === "between";
        clause.op = op.value;
        if (LISTS.has(clause.op) !== wasList || (clause.op === "between") !== wasBetween) {
          clause.value = this.convertValue(clause.value, clause.op);
        }
        if (NO_VALUE.has(clause.op)) {
          clause.value = null;
        }
        this.changed(true);
      });
      parts.push(op, this.valueNode(clause, kind));
      const remove = button("×", "icon-button remove-clause", "Remove this clause");
      remove.addEventListener("click", () => {
        group.children.splice(group.children.indexOf(clause), 1);
        this.changed(true);
      });
      parts.push(remove);
      const info = this.signals.get(clause.signal);
      return el("li", { className: "cond-clause", "data-path": clause.path }, [
        el("div", { className: "clause-line" }, parts),
        info ? el("small", { className: "hint clause-hint", text: info.description }) : null,
        el("p", { className: "row-error field-error", hidden: true }),
      ]);
    }

    clauseIndex(clause) {
      const all = [];
      const walk = (node) => {
        if (node.type === "clause") {
          all.push(node);
        } else {
          node.children.forEach(walk);
        }
      };
      walk(this.root);
      return all.indexOf(clause);
    }

    convertValue(value, op) {
      const first = Array.isArray(value) ? value[0] ?? null : value;
      if (LISTS.has(op)) {
        return first === null ? [] : [first];
      }
      if (op === "between") {
        return [first, null];
      }
      return first;
    }

    valueNode(clause, kind) {
      const wrap = el("span", { className: "clause-value" });
      const op = clause.op;
      if (NO_VALUE.has(op)) {
        wrap.append(el("span", { className: "muted no-value", text: "no value needed" }));
        return wrap;
      }
      const info = this.signals.get(clause.signal);
      const categories = info ? info.categories : [];
      if (kind === "boolean") {
        const choice = select({ className: "value-input", "aria-label": "Value" },
          [["", "Choose…"], ["true", "Yes"], ["false", "No"]], show(clause.value));
        choice.addEventListener("change", () => {
          clause.value = choice.value === "" ? null : choice.value === "true";
          this.changed(false);
        });
        wrap.append(choice);
        return wrap;
      }
      if (kind === "category" && LISTS.has(op)) {
        const chosen = new Set(Array.isArray(clause.value) ? clause.value : []);
        const boxes = el("span", { className: "value-checks", role: "group", "aria-label": "Values" });
        categories.forEach((category) => {
          const box = el("input", { type: "checkbox", value: category });
          box.checked = chosen.has(category);
          box.addEventListener("change", () => {
            clause.value = Array.from(boxes.querySelectorAll("input:checked")).map((b) => b.value);
            this.changed(false);
          });
          boxes.append(el("label", { className: "check" }, [box, ` ${category}`]));
        });
        wrap.append(boxes);
        return wrap;
      }
      if (kind === "category") {
        const options = [["", "Choose…"], ...categories.map((c) => [c, c])];
        if (clause.value && !categories.includes(clause.value)) {
          options.push([clause.value, `${clause.value} (unknown)`]);
        }
        const choice = select({ className: "value-input", "aria-label": "Value" }, options, show(clause.value));
        choice.addEventListener("change", () => {
          clause.value = choice.value || null;
          this.changed(false);
        });
        wrap.append(choice);
        return wrap;
      }
      const textual = kind === null; // an unknown signal: take the text as typed
      if (op === "between") {
        const pair = Array.isArray(clause.value) ? clause.value : [null, null];
        const low = el("input", { type: "text", inputmode: "decimal", className: "value-input short", "aria-label": "From", value: show(pair[0]) });
        const high = el("input", { type: "text", inputmode: "decimal", className: "value-input short", "aria-label": "To", value: show(pair[1]) });
        const update = () => {
          clause.value = [parseNumber(low.value), parseNumber(high.value)];
          this.changed(false);
        };
        low.addEventListener("input", update);
        high.addEventListener("input", update);
        wrap.append(low, el("span", { className: "muted", text: " and " }), high);
        return wrap;
      }
      if (LISTS.has(op)) {
        const list = el("input", {
          type: "text", className: "value-input", "aria-label": "Values, separated by commas",
          placeholder: "values, separated by commas",
          value: Array.isArray(clause.value) ? clause.value.join(", ") : show(clause.value),
        });
        list.addEventListener("input", () => {
          clause.value = list.value.split(",").map((part) => part.trim()).filter((part) => part)
            .map((part) => (textual ? part : parseNumber(part)));
          this.changed(false);
        });
        wrap.append(list);
        return wrap;
      }
      const single = el("input", {
        type: "text", inputmode: textual ? null : "decimal", className: "value-input",
        "aria-label": "Value", placeholder: textual ? "value" : "number", value: show(clause.value),
      });
      single.addEventListener("input", () => {
        clause.value = textual ? single.value : parseNumber(single.value);
        this.changed(false);
      });
      wrap.append(single);
      return wrap;
    }
  }

  // --- the actions -----------------------------------------------------------------------

  const ACTION_DEFAULTS = {
    route_to_pool: { pool: "", priority: "normal" },
    schedule_touchpoint: { channel: "email", template: "", recipient: "primary_contact", delay_days: 0 },
    create_action: { title: "", owner: "owning_csm", due_in_days: 7 },
    set_stage: { stage: "" },
  };

  class ActionsBuilder {
    constructor(catalog, mount, textarea, errors) {
      this.catalog = catalog;
      this.mount = mount;
      this.textarea = textarea;
      this.errors = errors;
    }

    load() {
      const text = this.textarea.value.trim();
      const actions = text ? JSON.parse(text) : [];
      if (!Array.isArray(actions) || actions.some((a) => a === null || typeof a !== "object" || Array.isArray(a))) {
        throw new Error("actions are a list of objects");
      }
      this.actions = actions;
    }

    sync() {
      this.textarea.value = JSON.stringify(this.actions, null, 2);
    }

    changed(rerender) {
      this.sync();
      if (rerender) {
        this.render();
      }
    }

    render() {
      this.sync();
      const list = el("ol", { className: "action-list" });
      this.actions.forEach((action, index) => list.append(this.rowNode(action, index)));
      const add = button("+ Action", "add-action", "Add an action");
      add.addEventListener("click", () => {
        this.actions.push({ type: "" });
        this.changed(true);
        const types = this.mount.querySelectorAll(".action-type");
        types[types.length - 1].focus();
      });
      const nodes = [list, el("div", { className: "group-actions" }, [add])];
      if (!this.actions.length) {
        nodes.unshift(el("p", { className: "muted empty-actions", text: "No actions yet." }));
      }
      this.mount.replaceChildren(...nodes);
      this.markErrors();
    }

    markErrors() {
      Object.entries(this.errors).forEach(([path, message]) => {
        const match = /^actions\[(\d+)\](?:\.(\w+))?/.exec(path);
        if (!match) {
          return;
        }
        const row = this.mount.querySelector(`[data-path="actions[${match[1]}]"]`);
        if (!row) {
          return;
        }
        row.classList.add("has-error");
        const slot = row.querySelector(".row-error");
        slot.textContent = message;
        slot.hidden = false;
        const control = match[2] && row.querySelector(`[data-field="${match[2]}"]`);
        if (control) {
          control.closest(".rb-field").classList.add("has-error");
          control.setAttribute("aria-invalid", "true");
        }
      });
    }

    options(list, current, blank) {
      const options = [["", blank], ...list.map((item) => [item.key, item.label])];
      if (current && !list.some((item) => item.key === current)) {
        options.push([current, `${current} (unknown)`]);
      }
      return options;
    }

    choice(action, name, label, list, blank, className) {
      const control = select({ "data-field": name }, this.options(list, action[name], blank), show(action[name]));
      control.addEventListener("change", () => {
        action[name] = control.value;
        this.changed(name === "channel");
      });
      return labelled(label, control, className);
    }

    number(action, name, label, placeholder) {
      const control = el("input", { type: "text", inputmode: "numeric", "data-field": name, placeholder, value: show(action[name]), className: "short" });
      control.addEventListener("input", () => {
        const value = parseNumber(control.value);
        if (value === null) {
          delete action[name];
        } else {
          action[name] = value;
        }
        this.changed(false);
      });
      return labelled(label, control, "narrow");
    }

    fields(action) {
      const c = this.catalog;
      if (action.type === "route_to_pool") {
        return [
          this.choice(action, "pool", "Pool", c.pools, c.pools.length ? "Choose a pool…" : "No pools yet"),
          this.choice(action, "priority", "Priority", c.priorities, "Choose…"),
          this.number(action, "sla_hours", "SLA (hours)", "pool default"),
        ];
      }
      if (action.type === "schedule_touchpoint") {
        const fitting = c.templates.filter((t) => t.channel === action.channel);
        return [
          this.choice(action, "channel", "Channel", c.channels, "Choose…"),
          this.choice(action, "template", "Template", fitting.length ? fitting : c.templates,
            fitting.length ? "Choose a template…" : "No template for this channel", "wide-field"),
          this.choice(action, "recipient", "Recipient", c.recipients, "Choose…"),
          this.number(action, "delay_days", "Delay (days)", "0"),
        ];
      }
      if (action.type === "create_action") {
        const title = el("input", { type: "text", "data-field": "title", value: show(action.title), maxlength: 300, placeholder: "e.g. Call the sponsor about the usage drop" });
        title.addEventListener("input", () => {
          action.title = title.value;
          this.changed(false);
        });
        return [
          labelled("Action item title", title, "wide-field"),
          this.choice(action, "owner", "Owner", c.owners, "Choose…"),
          this.number(action, "due_in_days", "Due in (days)", "7"),
        ];
      }
      if (action.type === "set_stage") {
        return [this.choice(action, "stage", "Stage", c.stages, "Choose a stage…")];
      }
      return [];
    }

    rowNode(action, index) {
      const type = select({ className: "action-type", "data-field": "type", "aria-label": `Action ${index + 1}: what happens` },
        this.options(this.catalog.action_types, action.type, "Choose what happens…"), show(action.type));
      type.addEventListener("change", () => {
        const fresh = { type: type.value, ...(ACTION_DEFAULTS[type.value] || {}) };
        Object.keys(action).forEach((key) => delete action[key]);
        Object.assign(action, fresh);
        this.changed(true);
      });
      const remove = button("×", "icon-button remove-action", `Remove action ${index + 1}`);
      remove.addEventListener("click", () => {
        this.actions.splice(this.actions.indexOf(action), 1);
        this.changed(true);
      });
      return el("li", { className: "action-row", "data-path": `actions[${index}]` }, [
        el("div", { className: "action-line" }, [
          el("span", { className: "row-number", text: String(index + 1) }),
          labelled("Action", type, "type-field"),
          ...this.fields(action),
          remove,
        ]),
        el("p", { className: "row-error field-error", hidden: true }),
      ]);
    }
  }

  // --- wiring ----------------------------------------------------------------------------

  // Show rows, or the JSON textarea behind "Edit as JSON"; a JSON that cannot be shown as rows
  // stays in the textarea with the reason.
  function attach(builder, section, name) {
    const mount = builder.mount;
    const field = section.querySelector(`[data-json-field="${name}"]`);
    const toggle = section.querySelector(`[data-json-toggle="${name}"]`);
    const note = el("p", { className: "field-error json-note", hidden: true });
    field.append(note);
    const useRows = () => {
      try {
        builder.load();
      } catch (error) {
        note.textContent = `This JSON can't be shown as rows (${error.message}); edit it here.`;
        note.hidden = false;
        return false;
      }
      note.hidden = true;
      builder.render();
      mount.hidden = false;
      field.hidden = true;
      toggle.textContent = "Edit as JSON";
      return true;
    };
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      if (field.hidden) {
        builder.sync();
        field.hidden = false;
        mount.hidden = true;
        toggle.textContent = "Back to rows";
        field.querySelector("textarea").focus();
      } else {
        useRows();
      }
    });
    if (!useRows()) {
      toggle.textContent = "Back to rows";
    }
  }

  function toggleOn(form, name, target, on) {
    const apply = () => {
      const checked = form.querySelector(`input[name="${name}"]:checked`);
      target.classList.toggle("is-off", !checked || !on(checked.value));
    };
    form.querySelectorAll(`input[name="${name}"]`).forEach((input) => input.addEventListener("change", apply));
    apply();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-rule-form]");
    if (!form) {
      return;
    }
    const catalog = JSON.parse(document.getElementById("rule-catalog").textContent);
    const errors = JSON.parse(document.getElementById("rule-error-paths").textContent);
    const conditionSection = document.getElementById("condition-section");
    const actionsSection = document.getElementById("actions-section");
    const condition = new ConditionBuilder(catalog, conditionSection.querySelector("[data-condition-builder]"),
      conditionSection.querySelector("textarea"), errors);
    const actions = new ActionsBuilder(catalog, actionsSection.querySelector("[data-actions-builder]"),
      actionsSection.querySelector("textarea"), errors);
    attach(condition, conditionSection, "condition");
    attach(actions, actionsSection, "actions");
    const eventFields = form.querySelector("[data-event-fields]");
    if (eventFields) {
      toggleOn(form, "mode", eventFields, (value) => value === "event");
    }
    const cooldown = form.querySelector("[data-cooldown]");
    if (cooldown) {
      toggleOn(form, "once_policy", cooldown, (value) => value === "cooldown");
    }
  });
})();
