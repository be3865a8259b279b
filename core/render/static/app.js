// Index page: copy buttons and the feed builder. No framework, no build step.
"use strict";

document.querySelectorAll("[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const url = button.getAttribute("data-copy");
    try {
      await navigator.clipboard.writeText(url);
      button.textContent = "Copied";
    } catch (error) {
      window.prompt("Copy this URL", url);
    }
    setTimeout(() => { button.textContent = "Copy URL"; }, 1500);
  });
});

const builder = document.getElementById("builder");
if (builder) {
  const output = document.getElementById("built-url");
  const preview = document.getElementById("built-preview");
  const link = document.getElementById("built-link");
  const compose = () => {
    const data = new FormData(builder);
    const params = new URLSearchParams();
    for (const name of ["keywords", "exclude", "min_score"]) {
      const value = String(data.get(name) || "").trim();
      if (value) params.set(name, value);
    }
    const types = data.getAll("type").map(String);
    if (types.length) params.set("type", types.join(","));
    const scope = String(data.get("category") || "");
    const path = (format) => "/" + format + (scope ? "/" + encodeURIComponent(scope) : "");
    const query = params.toString() ? "?" + params.toString() : "";
    return { feed: new URL(path(String(data.get("format"))) + query, window.location.href).href,
             json: new URL(path("json") + query, window.location.href).href };
  };
  builder.addEventListener("submit", async (event) => {
    event.preventDefault();
    const urls = compose();
    output.value = urls.feed;
    link.href = urls.feed;
    link.hidden = false;
    preview.textContent = "Counting…";
    try {
      const response = await fetch(urls.json);
      const body = await response.json();
      preview.textContent = response.ok
        ? "This feed keeps " + body.items.length + " of the current papers."
        : "Error: " + (body.error || response.status);
    } catch (error) {
      preview.textContent = "Could not preview: " + error;
    }
  });
}
