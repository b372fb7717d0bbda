// Copy buttons: <button class="copy" data-copy-target="element-id">. Same-origin file,
// because the Content-Security-Policy allows scripts from 'self' only.
"use strict";

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-http origins other than localhost have no Clipboard API.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const label = button.textContent;
  try {
    await copyText(source.textContent.trim());
    button.textContent = "Copied";
  } catch {
    button.textContent = "Press Ctrl+C";
    window.getSelection().selectAllChildren(source);
  }
  setTimeout(() => { button.textContent = label; }, 2000);
});
