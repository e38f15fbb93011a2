// The phone-theft page: builds its form from GET /schema, sends POST /predict?explain=1, draws
// the answer and, under it, why the first place: one signed bar per field, its push on that
// place's margin (floresta's TreeSHAP, computed by the server). No libraries, nothing loaded
// from elsewhere (the page works offline; the bars are inline SVG). The name the person types
// never leaves the browser: it only personalises the sentence.
"use strict";

(function () {
  const LABELS = {
    bairro: "Bairro", dia: "Dia da Semana", periodo: "Período", marca: "Marca do Celular",
    idade: "Idade", sexo: "Sexo",
  };
  // The values' names come from the model (GET /schema: each field's "display"); a natural
  // order where one exists.
  const ORDER = {
    dia: ["SEGUNDA", "TERCA", "QUARTA", "QUINTA", "SEXTA", "SABADO", "DOMINGO"],
    periodo: ["MADRUGADA", "MANHA", "TARDE", "NOITE"],
  };

  const form = document.getElementById("form");
  const button = document.getElementById("prever");
  const errorBox = document.getElementById("erro");
  const result = document.getElementById("resultado");
  const sentence = document.getElementById("frase");
  const bars = document.getElementById("barras");
  const modelLine = document.getElementById("modelo");
  const why = document.getElementById("porque");
  const whyTitle = document.getElementById("porque-titulo");
  const whyText = document.getElementById("porque-texto");
  const whyBars = document.getElementById("porque-barras");
  const whySum = document.getElementById("porque-soma");
  const whyRow = document.getElementById("porque-linha");  // a <template>: one row, its SVG bar included
  let schema = null;
  let explainable = true;  // GET /schema's "explain"; false once the server says the model cannot

  const percent = (p) => (100 * p).toLocaleString("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + "%";
  const margin = (x) => x.toLocaleString("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const signed = (x) => (x >= 0 ? "+" : "−") + margin(Math.abs(x));
  const times = (x) => x.toLocaleString("pt-BR", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + "×";
  const labelOf = (name) => LABELS[name] || name;
  const shownValue = (field, value) => (field.display && field.display[value]) || String(value);
  const fewReports = (field, value) => Boolean(field.few_reports && field.few_reports.includes(value));

  function showError(text, detail) {
    errorBox.textContent = text;
    if (detail) {
      const small = document.createElement("small");
      small.textContent = "Resposta do servidor: " + detail;
      errorBox.appendChild(small);
    }
    errorBox.hidden = false;
    result.hidden = true;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  function sortedValues(field) {
    const values = field.values.slice();
    const order = ORDER[field.name];
    if (order && values.every((v) => order.includes(v))) {
      return values.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    }
    if (values.every((v) => typeof v === "string")) {
      return values.sort((a, b) => shownValue(field, a).localeCompare(shownValue(field, b), "pt-BR"));
    }
    return values.sort((a, b) => a - b);
  }

  function controlFor(field) {
    let control = document.getElementById(field.name);
    if (!control || !control.dataset.field) {
      // A field this page does not know: give it a labelled control of its own.
      const box = document.createElement("div");
      box.className = "field";
      const label = document.createElement("label");
      label.htmlFor = "campo-" + field.name;
      label.textContent = labelOf(field.name);
      control = document.createElement(field.type === "categorical" ? "select" : "input");
      control.id = "campo-" + field.name;
      control.dataset.field = field.name;
      if (field.type !== "categorical") control.type = "number";
      box.append(label, control);
      document.getElementById("extra-fields").appendChild(box);
    }
    return control;
  }

  function buildForm() {
    for (const field of schema.fields) {
      const control = controlFor(field);
      if (field.type === "categorical") {
        control.replaceChildren();
        // A field the model can answer without offers "not given" (sent as null).
        control.add(new Option(field.optional ? "Não sei / prefiro não dizer" : "Escolha…", ""));
        for (const value of sortedValues(field)) {
          const shown = shownValue(field, value) + (fewReports(field, value) ? " (poucos registros)" : "");
          control.add(new Option(shown, String(value)));
        }
      } else {
        if (field.min !== undefined) control.min = field.min;
        if (field.max !== undefined) control.max = field.max;
        control.placeholder = (field.min !== undefined ? `${field.min} a ${field.max}` : "") +
          (field.optional ? " (opcional)" : "");
      }
    }
    // Hide the page's own controls that this model does not take.
    const names = new Set(schema.fields.map((f) => f.name));
    for (const control of form.querySelectorAll("[data-field]")) {
      if (!names.has(control.dataset.field)) control.closest(".field").hidden = true;
    }
    explainable = schema.explain !== false;
    modelLine.textContent = `Modelo ${schema.model.name}, versão ${schema.model.version}, servido por floresta. ` +
      `Locais possíveis: ${schema.labels.length}.` + cardText(schema.model_card);
    button.disabled = false;
  }

  // The model card (GET /schema's model_card) in one line: data, years, test results.
  function cardText(card) {
    if (!card) return "";
    const parts = [];
    if (card.data) {
      const years = card.data.years ? ` de ${card.data.years[0]} a ${card.data.years[card.data.years.length - 1]}` : "";
      parts.push(`Treinado com ${card.data.synthetic ? "dados sintéticos" : "dados"}${years}` +
        (card.data.seed !== undefined ? ` (semente ${card.data.seed})` : "") + ".");
    }
    if (card.test && card.test.log_loss !== undefined) {
      const n = (x) => x.toLocaleString("pt-BR", { maximumFractionDigits: 3 });
      parts.push(`Teste: log loss ${n(card.test.log_loss)} (só a média da cidade: ${n(card.test.prior_log_loss)}` +
        (card.test.bayes_log_loss !== undefined ? `; o melhor possível: ${n(card.test.bayes_log_loss)}` : "") + ").");
    }
    return parts.length ? " " + parts.join(" ") : "";
  }

  function person() {
    const body = {};
    for (const field of schema.fields) {
      const control = controlFor(field);
      const raw = control.value.trim();
      if (raw === "") {
        if (field.optional) body[field.name] = null;  // not given: the model's answer for a missing value
        continue;  // otherwise left out: the server names the missing field
      }
      if (field.type === "numeric" || (field.values && typeof field.values[0] === "number")) {
        const number = Number(raw.replace(",", "."));
        body[field.name] = Number.isFinite(number) ? number : raw;
      } else {
        body[field.name] = raw;
      }
    }
    return body;
  }

  function explain(problem) {
    const name = problem.field ? `“${labelOf(problem.field)}”` : "";
    const field = schema && problem.field ? schema.fields.find((f) => f.name === problem.field) : null;
    switch (problem.rule) {
      case "required":
        return field && field.type === "categorical" ? `Escolha um valor em ${name}.` : `Preencha o campo ${name}.`;
      case "type":
        return field && field.type === "numeric" ? `O campo ${name} precisa ser um número.`
                                                 : `O valor de ${name} não é válido.`;
      case "range":
        return field && field.min !== undefined
          ? `${name} precisa estar entre ${field.min} e ${field.max}.`
          : `O valor de ${name} está fora do intervalo aceito.`;
      case "vocabulary":
        return `O modelo não conhece o valor escolhido em ${name}. Escolha outro valor da lista.`;
      case "body_size":
      case "batch_size":
        return "O pedido é grande demais para o servidor.";
      default:
        return "O servidor não conseguiu responder a este pedido.";
    }
  }

  function draw(answer, name, sent) {
    const top = answer[0];
    sentence.replaceChildren();
    const who = name ? `${name}, entre` : "Entre";
    sentence.append(`${who} os roubos e furtos de celular registrados com pessoas de perfil como o seu, o local mais comum é `);
    const strong = document.createElement("strong");
    strong.textContent = top.label;
    sentence.append(strong, `: ${percent(top.value)}` +
      (top.lift !== undefined ? `, ${times(top.lift)} a média da cidade.` : "."));
    const meaning = document.createElement("small");
    meaning.className = "meaning";
    meaning.textContent = "Os números dizem onde acontecem os roubos de pessoas como você, não a chance de você ser roubado. " +
      "A comparação é com a média da cidade para cada local. Idade e sexo são inventados nos dados de treino e pesam pouco.";
    sentence.append(meaning);
    for (const field of schema.fields) {
      if (sent[field.name] !== null && sent[field.name] !== undefined && fewReports(field, sent[field.name])) {
        const note = document.createElement("small");
        note.className = "few";
        note.textContent = `Poucos registros em ${shownValue(field, sent[field.name])}: a resposta se apoia mais no padrão da cidade.`;
        sentence.append(note);
      }
    }
    bars.replaceChildren();
    for (const item of answer) {
      const li = document.createElement("li");
      li.dataset.position = item.position;
      li.dataset.label = item.label;
      li.dataset.value = String(item.value);
      if (item.lift !== undefined) li.dataset.lift = String(item.lift);
      if (item.position === 1) li.className = "top";
      const place = document.createElement("span");
      place.className = "place";
      place.textContent = item.label;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.width = `${Math.max(0, Math.min(1, item.value)) * 100}%`;
      track.appendChild(fill);
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = percent(item.value);
      li.append(place, track, value);
      if (item.lift !== undefined) {
        const lift = document.createElement("span");
        lift.className = "lift";
        lift.textContent = `${times(item.lift)} a média`;
        li.append(lift);
      }
      bars.appendChild(li);
    }
    result.hidden = false;
    result.dataset.ready = String(Date.now());
  }

  // Why the first place (POST /predict?explain=1's "why"): per field, a bar from the middle line,
  // to the right when the field pushes toward the place, to the left when it pushes away, all
  // on one scale (the largest push reaches the edge).
  function drawWhy(explained, sent) {
    if (!explained || !Array.isArray(explained.fields)) {
      why.hidden = true;
      whyBars.replaceChildren();
      return;
    }
    const place = explained.place;
    whyTitle.textContent = `Por que ${place}?`;
    const colour = (className, text) => Object.assign(document.createElement("span"), { className, textContent: text });
    whyText.replaceChildren(
      `Cada barra é o empurrão de um campo da sua resposta sobre ${place}, comparado com a pessoa média dos ` +
      "dados de treino: para a direita (", colour("toward", "vermelho"), `) aproxima de ${place}, para a esquerda (`,
      colour("away", "azul"), ") afasta. Os valores estão em unidades da margem do modelo (a pontuação que ele dá a " +
      "cada local antes de virar porcentagem), não em pontos percentuais.");
    const largest = Math.max(...explained.fields.map((f) => Math.abs(f.contribution)), 1e-12);
    whyBars.replaceChildren();
    let total = explained.expected;
    for (const f of explained.fields) {
      total += f.contribution;
      const given = sent[f.field] !== null && sent[f.field] !== undefined && f.value !== "not given";
      const li = whyRow.content.firstElementChild.cloneNode(true);
      const side = f.contribution >= 0 ? "toward" : "away";
      li.className = side;
      li.dataset.field = f.field;
      li.dataset.value = f.value;
      li.dataset.contribution = String(f.contribution);
      const name = li.querySelector(".why-name");
      name.prepend(labelOf(f.field));
      name.querySelector("small").textContent = given ? f.value : "não informado";
      li.querySelector(".why-chart").setAttribute("aria-label", `${labelOf(f.field)}: ${signed(f.contribution)}`);
      // Half the chart's width (100 of 200) is the largest push; right of the middle line toward the place.
      const width = Math.abs(f.contribution) / largest * 100;
      const bar = li.querySelector(".why-bar");
      bar.classList.add(side);
      bar.setAttribute("x", String(f.contribution >= 0 ? 100 : 100 - width));
      bar.setAttribute("width", String(width));
      li.querySelector(".why-number").textContent = signed(f.contribution);
      whyBars.appendChild(li);
    }
    whySum.textContent = `Ponto de partida, a pessoa média: ${margin(explained.expected)}. Somando os empurrões dos seus ` +
      `campos: ${margin(total)}, a margem de ${place} para você — é a maior dos ${schema.labels.length} locais, por isso ` +
      `${place} vem em primeiro.`;
    why.hidden = false;
  }

  async function predict(event) {
    event.preventDefault();
    clearError();
    button.disabled = true;
    try {
      const sent = person();
      const send = () => fetch(explainable ? "/predict?explain=1" : "/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(sent),
      });
      let response = await send();
      let body = null;
      try { body = await response.json(); } catch (e) { body = null; }
      if (response.status === 409 && body && body.rule === "explain") {
        // A model that cannot explain (swapped in since the page loaded): the plain answer.
        explainable = false;
        response = await send();
        try { body = await response.json(); } catch (e) { body = null; }
      }
      if (!response.ok) {
        const problem = body && typeof body === "object" ? body : {};
        showError(explain(problem), problem.error || `HTTP ${response.status}`);
        return;
      }
      const explained = body && !Array.isArray(body) ? body : null;
      draw(explained ? explained.places : body, document.getElementById("nome").value.trim(), sent);
      drawWhy(explained && explained.why, sent);
    } catch (e) {
      showError("Não foi possível falar com o servidor. Verifique a conexão e tente de novo.", String(e.message || e));
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    try {
      const response = await fetch("/schema");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      schema = await response.json();
      buildForm();
      form.addEventListener("submit", predict);
    } catch (e) {
      modelLine.textContent = "";
      showError("Não foi possível carregar o formulário: o servidor não respondeu.", String(e.message || e));
    }
  }

  start();
})();
