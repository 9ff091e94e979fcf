// Copy buttons for feed addresses. Loaded from our own origin: the page's CSP allows no inline script.
"use strict";

function announce(button, text) {
  const status = document.getElementById(button.getAttribute("aria-describedby"));
  if (status) {
    status.textContent = text;
  }
}

async function copyAddress(button) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) {
    return;
  }
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
    announce(button, "Feed address copied. Paste it into your feed reader.");
  } catch (error) {
    // No clipboard access (an old browser, or permission refused): select it for Ctrl+C instead.
    field.focus();
    field.select();
    announce(button, "Press Ctrl+C (or ⌘C) to copy the selected address.");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest(".copy-button");
  if (button) {
    copyAddress(button);
  }
});

document.addEventListener("focusin", (event) => {
  // Focusing an address selects all of it, so a keyboard user can copy at once.
  if (event.target.matches(".copy input[readonly]")) {
    event.target.select();
  }
});
