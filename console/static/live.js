// The live view: one server-sent `tick` a second updates the page in place.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const rows = $("live-orders");
  const history = [];
  const MAX_POINTS = 120;
  const MAX_ROWS = 30;

  function text(id, value) {
    const el = $(id);
    if (el) el.textContent = value === null || value === undefined ? "–" : String(value);
  }

  function cell(content, cls, label) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (label) td.dataset.label = label;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    return td;
  }

  function orderRow(o) {
    const tr = document.createElement("tr");
    tr.dataset.order = o.order_id;
    const link = document.createElement("a");
    link.href = "/orders/" + encodeURIComponent(o.order_id);
    link.textContent = o.order_id;
    const state = document.createElement("span");
    state.className = "state state-" + o.state.toLowerCase();
    state.textContent = o.state.toLowerCase();
    tr.append(
      cell(link, "", "Order"), cell(String(o.customer_id), "", "Customer"), cell(o.product, "", "Product"),
      cell(String(o.quantity), "num", "Qty"), cell(state, "", "State"), cell(o.placed_at, "", "Placed"));
    return tr;
  }

  function showOrders(orders) {
    for (const o of orders) {
      const fresh = orderRow(o);
      const old = rows.querySelector('tr[data-order="' + CSS.escape(o.order_id) + '"]');
      if (old) { old.replaceWith(fresh); } else { fresh.classList.add("fresh"); rows.prepend(fresh); }
    }
    while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
  }

  function showStages(stages) {
    const body = $("stages");
    if (!body) return;
    body.replaceChildren(...stages.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.stage = s.name;
      tr.append(cell(s.name), cell(String(s.rate), "num"), cell(String(s.lag), "num"), cell(String(s.dead_letters), "num"));
      return tr;
    }));
  }

  function draw() {
    const canvas = $("flow");
    if (!canvas) return;
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const top = Math.max(1, ...history.map((p) => Math.max(p.placed, p.decided)));
    ctx.fillStyle = "#5b6474";
    ctx.font = "12px sans-serif";
    ctx.fillText(top.toFixed(1) + "/s", 4, 12);
    for (const [key, color] of [["placed", "#1f5fbf"], ["decided", "#1c7c3c"]]) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      history.forEach((p, i) => {
        const x = w - (history.length - 1 - i) * (w / (MAX_POINTS - 1));
        const y = h - 4 - (p[key] / top) * (h - 20);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
  }

  function tick(event) {
    const data = JSON.parse(event.data);
    // The status is a live region: it changes only when the state does.
    const said = data.error ? "The API refused: " + data.error : "Live";
    if (status.textContent !== said) status.textContent = said;
    text("updated", new Date().toLocaleTimeString());
    showOrders(data.orders || []);
    const m = data.metrics;
    if (m) {
      text("placed-rate", m.placed_per_s);
      text("decided-rate", m.decided_per_s);
      text("placed-total", m.placed_total);
      text("decided-total", m.decided_total);
      text("p50", m.latency_ms.p50);
      text("p95", m.latency_ms.p95);
      text("p99", m.latency_ms.p99);
      text("latency-over", m.latency_over);
      showStages(m.stages);
      history.push({ placed: m.placed_per_s, decided: m.decided_per_s });
      if (history.length > MAX_POINTS) history.shift();
      draw();
    }
  }

  const source = new EventSource("/live/events");
  source.addEventListener("tick", tick);
  source.onerror = () => { status.textContent = "Disconnected: reconnecting…"; };
})();
