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
  const defaultTypes = builder.dataset.types.split(",").sort().join(",");
  // Only what the user set goes into the URL: an untouched field keeps config.json's value.
  const compose = () => {
    const data = new FormData(builder);
    const params = new URLSearchParams();
    for (const name of ["keywords", "exclude", "q", "like", "min_score", "limit"]) {
      const value = String(data.get(name) || "").trim();
      if (value) params.set(name, value);
    }
    const types = data.getAll("type").map(String);
    if (types.slice().sort().join(",") !== defaultTypes) params.set("type", types.join(","));
    const path = (format) => "/" + format + String(data.get("feed") || "");
    const query = params.toString() ? "?" + params.toString() : "";
    return { feed: new URL(path(String(data.get("format"))) + query, window.location.href).href,
             json: new URL(path("json") + query, window.location.href).href };
  };
  const fail = (message) => {
    preview.textContent = "Error: " + message;
    output.value = "";
    link.hidden = true;
    link.removeAttribute("href");
  };
  builder.addEventListener("submit", async (event) => {
    event.preventDefault();
    const invalid = builder.querySelector(":invalid");
    if (invalid) return fail(invalid.name + ": " + invalid.validationMessage);
    if (!builder.querySelector("input[name=type]:checked")) return fail("pick at least one announce type");
    const urls = compose();
    preview.textContent = "Checking…";
    try {
      const response = await fetch(urls.json);
      const body = await response.json();
      if (!response.ok) return fail((body.error || response.status) + (body.hint ? " (" + body.hint + ")" : ""));
      output.value = urls.feed;
      link.href = urls.feed;
      link.hidden = false;
      preview.textContent = "This feed keeps " + body.items.length + " of the current papers.";
    } catch (error) {
      fail("could not check the feed: " + error);
    }
  });
}
