// imgpipe gallery: upload photos, watch them being processed, browse variants, try renditions.
// Plain browser JavaScript, no build step and no third-party code. The page is served by the
// stack's own API (GET <api_url>/gallery), so every API call below is same-origin; only the
// presigned S3 URLs (large uploads, variant and rendition images) are cross-origin, which the
// buckets' CORS rules allow.
"use strict";

(() => {
  const PUT_LIMIT = 10 * 1024 * 1024; // API Gateway's payload limit: larger files go to S3 directly
  const KEY_STORAGE = "imgpipe.apiKey";
  const POLL_MS = 1000;
  const POLL_GIVE_UP_MS = 180000;
  const PAGE_SIZE = 12;
  const VARIANT_ORDER = ["thumbnail", "compressed", "low", "webp", "png"];

  // <api_url>/gallery → <api_url>/ (every route is relative to the stage)
  const apiBase = new URL(location.pathname.replace(/\/gallery\/?(?:index\.html)?$/, "/"), location.origin);
  const $ = (id) => document.getElementById(id);

  // ---- API key: from the URL fragment (local stacks open authorised), else asked once --------
  function takeKeyFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const key = params.get("key");
    if (key) {
      sessionStorage.setItem(KEY_STORAGE, key);
      // drop it from the address bar, history and any screenshot or bookmark
      history.replaceState(null, "", location.pathname + location.search);
    }
  }
  const apiKey = () => sessionStorage.getItem(KEY_STORAGE) || "";

  // ---- requests: paced under the usage plan's rate, retried on 429 --------------------------
  // The default usage plan allows 10 requests/s (burst 20) per key: stay below it rather than
  // collect 429s (each of which the browser reports as a failed resource load).
  const pace = { rate: 8, burst: 8, tokens: 8, last: performance.now(), queue: [], timer: 0 };
  function pump() {
    const now = performance.now();
    pace.tokens = Math.min(pace.burst, pace.tokens + ((now - pace.last) / 1000) * pace.rate);
    pace.last = now;
    while (pace.queue.length && pace.tokens >= 1) {
      pace.tokens -= 1;
      pace.queue.shift()();
    }
    if (pace.queue.length && !pace.timer) {
      const wait = Math.ceil(((1 - pace.tokens) / pace.rate) * 1000);
      pace.timer = setTimeout(() => { pace.timer = 0; pump(); }, wait);
    }
  }
  const slot = () => new Promise((resolve) => { pace.queue.push(resolve); pump(); });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, { method = "GET", body, headers = {} } = {}) {
    for (let attempt = 0; ; attempt++) {
      await slot();
      const resp = await fetch(new URL(path, apiBase), {
        method,
        body,
        headers: { "x-api-key": apiKey(), Accept: "application/json", ...headers },
        cache: "no-store",
        redirect: "error", // JSON is asked for; never follow a redirect with the key attached
      });
      if (resp.status === 429 && attempt < 5) {
        const after = Number(resp.headers.get("Retry-After")) || 0;
        await sleep(Math.max(after * 1000, 500 * 2 ** attempt));
        continue;
      }
      const text = await resp.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
      if (!resp.ok) {
        const message = (data && data.message) || `${resp.status} ${resp.statusText}`;
        throw new ApiError(resp.status, `${method} ${path}: ${message}`);
      }
      return { data, headers: resp.headers };
    }
  }

  // ---- tiny DOM helpers (text only: nothing from the API is parsed as HTML) -----------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }
  function fmtBytes(n) {
    if (n === null || n === undefined) return "?";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  }
  const formatName = (contentType) => String(contentType || "").replace(/^image\//, "").toUpperCase() || "?";
  const dims = (o) => (o && o.width ? `${o.width}×${o.height}` : "?");
  // gallery/<stamp>-<random>-<name> (see uploadKey) shows as <name>
  const baseName = (key) => String(key || "").split("/").pop().replace(/^\d{8}T\d{6}-[0-9a-f]{6}-/, "");

  // ---- variants and metadata of a processed image ---------------------------------------------
  function orderedVariants(item) {
    const names = Object.keys(item.variants || {});
    const rank = (n) => (VARIANT_ORDER.includes(n) ? VARIANT_ORDER.indexOf(n) : VARIANT_ORDER.length);
    return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  // The variant route answers 302 by default; with Accept: application/json it answers the
  // presigned URL as JSON, which fetch can read (a cross-origin redirect it could not).
  async function variantUrl(imageId, name) {
    const { data } = await api(`images/${encodeURIComponent(imageId)}/variants/${encodeURIComponent(name)}`);
    return data.url;
  }

  function loadInto(img, urlPromise) {
    urlPromise.then((url) => {
      img.addEventListener("load", () => { img.dataset.loaded = "true"; }, { once: true });
      img.src = url;
    }).catch((e) => {
      img.alt = `${img.alt} (could not load: ${e.message})`;
      img.dataset.loaded = "error";
    });
  }

  function variantFigures(item) {
    return el("ul", { class: "variants" }, orderedVariants(item).map((name) => {
      const v = item.variants[name];
      const img = el("img", {
        alt: `${name} variant of ${baseName(item.source_key)}: ${String(v.format).toUpperCase()}, ${dims(v)} pixels`,
        width: v.width, height: v.height,
      });
      loadInto(img, variantUrl(item.image_id, name));
      return el("li", {}, el("figure", {}, img, el("figcaption", {},
        el("b", { text: name }), ` · ${String(v.format).toUpperCase()} · ${dims(v)} · ${fmtBytes(v.bytes)}`)));
    }));
  }

  const metadata = (item) => el("details", {},
    el("summary", { text: "Metadata record (JSON)" }),
    el("pre", { text: JSON.stringify(item, null, 2) }));

  // ---- render playground ---------------------------------------------------------------------
  let renderItem = null;
  function selectForRender(item) {
    renderItem = item;
    document.querySelectorAll(".selected").forEach((n) => n.classList.remove("selected"));
    document.querySelectorAll(`[data-image-id="${item.image_id}"]`).forEach((n) => n.classList.add("selected"));
    $("render-target").textContent =
      `Rendering ${baseName(item.source_key)} (${item.image_id}, ${dims(item)} ${String(item.format || "").toUpperCase()}).`;
    $("render-button").disabled = false;
    $("render-panel").scrollIntoView({ behavior: "smooth", block: "start" });
    $("render-form").elements.w.focus({ preventScroll: true });
  }

  async function render(event) {
    event.preventDefault();
    if (!renderItem) return;
    const form = event.target;
    const params = new URLSearchParams();
    for (const name of ["w", "h", "fit", "format", "quality"]) {
      const value = String(form.elements[name].value).trim();
      if (value) params.set(name, value);
    }
    const path = `images/${encodeURIComponent(renderItem.image_id)}/render?${params}`;
    // JSON through ?redirect=false, so Accept can say which image formats this browser shows
    // (format=auto picks by it)
    const ask = `${path}&redirect=false`;
    const accept = "image/avif,image/webp,image/apng,image/*;q=0.8";
    const out = $("render-result");
    out.replaceChildren(el("p", { class: "muted", text: "Rendering…" }));
    $("render-button").disabled = true;
    const t0 = performance.now();
    try {
      const { data, headers } = await api(ask, { headers: { Accept: accept } });
      const ms = Math.round(performance.now() - t0);
      const hit = data.cached === true || headers.get("X-Cache") === "Hit";
      const img = el("img", {
        alt: `Rendition of ${baseName(renderItem.source_key)}: ${formatName(data.content_type)}, ${dims(data)} pixels, fit ${params.get("fit") || "inside"}`,
        width: data.width, height: data.height,
      });
      img.addEventListener("load", () => { img.dataset.loaded = "true"; }, { once: true });
      img.src = data.url;
      out.replaceChildren(img, el("dl", {},
        el("dt", { text: "cache" }), el("dd", {}, el("span", { class: `badge ${hit ? "hit" : "miss"}`, id: "render-cache", text: hit ? "hit" : "miss" })),
        el("dt", { text: "size" }), el("dd", { text: `${dims(data)} · ${data.content_type || ""} · ${fmtBytes(data.bytes)}` }),
        el("dt", { text: "took" }), el("dd", { text: `${ms} ms` }),
        el("dt", { text: "API URL" }), el("dd", {}, el("code", { id: "render-url", text: new URL(path, apiBase).href })),
        el("dt", { text: "image URL" }), el("dd", {}, el("a", { href: data.url, target: "_blank", rel: "noopener noreferrer", text: "presigned S3 URL (expires)" })),
      ));
    } catch (e) {
      out.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
    } finally {
      $("render-button").disabled = false;
    }
  }

  // ---- uploads -------------------------------------------------------------------------------
  function uploadKey(file) {
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
    const rand = Math.random().toString(16).slice(2, 8);
    const safe = file.name.normalize("NFKD").replace(/[^\w.-]+/g, "-").replace(/^[-.]+|-+$/g, "").slice(-80) || "image";
    return `gallery/${stamp}-${rand}-${safe}`;
  }

  // Browsers often give HEIC/HEIF/AVIF files no type; the API wants one for presigned uploads
  // (the pipeline itself decides by content).
  const BY_EXTENSION = { heic: "image/heic", heif: "image/heif", avif: "image/avif" };
  function contentType(file) {
    const ext = file.name.split(".").pop().toLowerCase();
    return file.type || BY_EXTENSION[ext] || "application/octet-stream";
  }

  // PUT with upload progress (fetch has none); resolves with the status, rejects on network errors.
  function put(url, file, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", () => resolve({ status: xhr.status, text: xhr.responseText }));
      xhr.addEventListener("error", () => reject(new Error("network error (or the request was refused by CORS)")));
      xhr.send(file);
    });
  }

  function errorText(result) {
    try {
      return JSON.parse(result.text).message;
    } catch {
      const code = /<Code>([^<]*)<\/Code>/.exec(result.text || "");
      return code ? `S3 said ${code[1]}` : `status ${result.status}`;
    }
  }

  class Upload {
    constructor(file) {
      this.file = file;
      this.key = uploadKey(file);
      this.status = el("span", { class: "status uploading", text: "uploading" });
      this.progress = el("progress", { max: 100, value: 0, "aria-label": `upload progress of ${file.name}` });
      this.detail = el("p", { class: "muted" });
      this.body = el("div");
      this.card = el("li", { class: "card" },
        el("div", { class: "card-head" }, el("span", { class: "name", text: file.name }),
          el("span", { class: "muted", text: `${fmtBytes(file.size)} · ${file.size > PUT_LIMIT ? "presigned S3 upload" : "PUT /uploads"}` })),
        this.progress, el("p", {}, "Status: ", this.status), this.detail, this.body);
      this.card.dataset.key = this.key;
    }

    setStatus(state, text) {
      this.status.className = `status ${state}`;
      this.status.textContent = text || state;
      this.card.dataset.status = state;
    }

    async run() {
      try {
        await this.send();
        this.progress.value = 100;
        this.setStatus("waiting", "uploaded, waiting for the processor");
        await this.watch();
      } catch (e) {
        this.setStatus("failed", "failed");
        this.detail.textContent = e.message;
      }
    }

    async send() {
      const type = contentType(this.file);
      const onProgress = (f) => { this.progress.value = Math.round(f * 100); };
      if (this.file.size <= PUT_LIMIT) {
        const path = `uploads/${this.key.split("/").map(encodeURIComponent).join("/")}`;
        await slot();
        const result = await put(new URL(path, apiBase), this.file, { "Content-Type": type, "x-api-key": apiKey() }, onProgress);
        if (result.status !== 200) throw new Error(`upload refused: ${errorText(result)}`);
        return;
      }
      // Too big for API Gateway: ask for a presigned URL, then PUT straight to S3. Type and size
      // are signed into the URL, so S3 refuses anything else.
      const { data } = await api("uploads", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ content_type: type, content_length: this.file.size, key: this.key }),
      });
      // Send the signed headers (Content-Type, If-None-Match: *) as given; the browser sets
      // Content-Length itself (scripts may not).
      const signed = Object.fromEntries(
        Object.entries(data.headers || {}).filter(([name]) => name.toLowerCase() !== "content-length"));
      const result = await put(data.url, this.file, signed, onProgress);
      if (result.status !== 200) throw new Error(`S3 refused the upload: ${errorText(result)}`);
    }

    async watch() {
      const started = performance.now();
      for (;;) {
        const { data } = await api(`images?source_key=${encodeURIComponent(this.key)}`);
        const item = (data.items || [])[0];
        if (item && item.status === "done") return this.done(item);
        if (item && item.status === "failed") {
          this.setStatus("failed", "failed");
          this.detail.textContent = item.error || "the processor recorded a failure";
          this.body.replaceChildren(metadata(item));
          return;
        }
        if (item) this.setStatus("processing", "processing");
        if (performance.now() - started > POLL_GIVE_UP_MS) {
          this.detail.textContent = "still not done after 3 minutes: see the function's logs (and the dead-letter queue)";
          return;
        }
        await sleep(POLL_MS);
      }
    }

    done(item) {
      this.setStatus("done", "done");
      this.card.dataset.imageId = item.image_id;
      this.detail.textContent = `${String(item.format).toUpperCase()} ${dims(item)} · ${fmtBytes(item.bytes)} · processed in ${item.duration_ms} ms · image ${item.image_id}`;
      this.body.replaceChildren(variantFigures(item), metadata(item),
        el("div", { class: "actions" }, el("button", { type: "button", class: "secondary", onclick: () => selectForRender(item), text: "Render…" })));
      recent.prepend(item);
    }
  }

  function addFiles(files) {
    if (!apiKey()) {
      showKeyPanel("Enter the API key first.");
      return;
    }
    // newest batch on top, each batch in the order chosen
    const first = $("uploads").firstChild;
    for (const file of files) {
      const upload = new Upload(file);
      $("uploads").insertBefore(upload.card, first);
      upload.run();
    }
  }

  // ---- recent images (GET /images?status=done, newest first, paged) -------------------------
  const recent = {
    cursor: null,
    seen: new Set(),
    card(item) {
      const thumb = item.variants && (item.variants.thumbnail ? "thumbnail" : orderedVariants(item)[0]);
      const img = el("img", { alt: `${baseName(item.source_key)} (${dims(item)}, ${String(item.format || "").toUpperCase()})` });
      if (thumb) loadInto(img, variantUrl(item.image_id, thumb));
      const li = el("li", {}, img,
        el("p", { class: "meta" }, el("b", { text: baseName(item.source_key) }), el("br"),
          `${dims(item)} · ${fmtBytes(item.bytes)} · ${item.created_at ? new Date(item.created_at).toLocaleString() : ""}`),
        el("div", { class: "actions" }, el("button", { type: "button", class: "secondary", onclick: () => selectForRender(item), text: "Render…" })),
        metadata(item));
      li.dataset.imageId = item.image_id;
      return li;
    },
    prepend(item) {
      if (this.seen.has(item.image_id)) return;
      this.seen.add(item.image_id);
      $("recent").prepend(this.card(item));
      $("recent-state").textContent = "";
    },
    async load() {
      $("more").disabled = true;
      $("recent-state").textContent = "Loading…";
      try {
        const q = new URLSearchParams({ status: "done", limit: String(PAGE_SIZE) });
        if (this.cursor) q.set("cursor", this.cursor);
        const { data } = await api(`images?${q}`);
        for (const item of data.items || []) {
          if (this.seen.has(item.image_id)) continue;
          this.seen.add(item.image_id);
          $("recent").append(this.card(item));
        }
        this.cursor = data.next_cursor || null;
        $("more").hidden = !this.cursor;
        $("recent-state").textContent = this.seen.size ? "" : "No processed images yet: upload one above.";
      } catch (e) {
        $("recent-state").textContent = e.message;
      } finally {
        $("more").disabled = false;
      }
    },
  };

  // ---- key panel -----------------------------------------------------------------------------
  function showKeyPanel(message) {
    $("key-panel").hidden = false;
    $("key-error").textContent = message || "";
    $("key-input").focus();
  }
  function keyReady() {
    $("key-panel").hidden = true;
    $("key-state").textContent = "API key: set for this tab";
    $("forget-key").hidden = false;
    recent.load();
  }

  async function useKey(event) {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    try {
      await api(`images?status=done&limit=1`);
      $("key-input").value = "";
      keyReady();
    } catch (e) {
      sessionStorage.removeItem(KEY_STORAGE);
      showKeyPanel(e.status === 403 ? "The API refused this key (403): check it and try again." : e.message);
    }
  }

  // ---- wiring --------------------------------------------------------------------------------
  function init() {
    takeKeyFromFragment();
    const zone = $("drop-zone");
    const input = $("file-input");
    zone.addEventListener("click", () => input.click());
    zone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      addFiles([...e.dataTransfer.files]);
    });
    // a file dropped beside the zone must not navigate away from the page
    window.addEventListener("dragover", (e) => e.preventDefault());
    window.addEventListener("drop", (e) => e.preventDefault());
    input.addEventListener("change", () => {
      addFiles([...input.files]);
      input.value = "";
    });
    $("render-form").addEventListener("submit", render);
    $("key-form").addEventListener("submit", useKey);
    $("more").addEventListener("click", () => recent.load());
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      $("key-state").textContent = "API key: not set";
      $("forget-key").hidden = true;
      showKeyPanel();
    });
    if (apiKey()) keyReady();
    else showKeyPanel();
  }

  init();
})();
