// Orlop dashboard: the little the server cannot do alone (docs/dashboard.md).
// Every form works without this script; with it, uploads show a progress bar and
// long actions a busy button. No framework, no inline script (the CSP forbids it).
"use strict";

function busy(form) {
  for (const b of form.querySelectorAll("button")) {
    b.disabled = true;
    b.dataset.label = b.textContent;
    b.textContent = "Working\u2026";
  }
  form.classList.add("running");
}

function showResponse(xhr) {
  // Success: the server redirected to the page to show; failure: its error page.
  if (xhr.status < 400 && xhr.responseURL) {
    window.location.assign(xhr.responseURL);
    return;
  }
  const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
  const main = doc.querySelector("main");
  if (main) {
    document.querySelector("main").replaceWith(document.adoptNode(main));
  } else {
    document.body.textContent = xhr.status + " " + xhr.responseText;
  }
}

function upload(form, event) {
  event.preventDefault();
  const bar = form.querySelector("progress");
  const status = form.querySelector(".status");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf.value);
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) {
      bar.value = Math.round((e.loaded / e.total) * 100);
      status.textContent = " " + bar.value + "% sent";
    }
  });
  xhr.upload.addEventListener("load", () => {
    status.textContent = " sent; the engine is working\u2026";
  });
  xhr.addEventListener("load", () => showResponse(xhr));
  xhr.addEventListener("error", () => {
    status.textContent = " the connection failed";
  });
  bar.hidden = false;
  busy(form);
  xhr.send(new FormData(form));
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.dataset.progress !== undefined) {
    upload(form, event);
  } else if (form.dataset.busy !== undefined || form.method === "post") {
    busy(form);
  }
});
