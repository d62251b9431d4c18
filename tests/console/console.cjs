// Drives the operator console in headless Chromium (playwright-core, Debian chromium):
// wrong token, queue, request detail, QR player, audit view. Screenshots go to OUT.
// Usage: node console.cjs URL TOKEN REQUEST_ID OUT  (env PLAYWRIGHT_CORE, CHROMIUM)
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const [url, token, id, out] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url + "/console");
  await page.fill("#token", "not-a-token");
  await page.click("#save-token");
  await page.waitForSelector("#error");
  const refused = await page.textContent("#error");
  await page.fill("#token", token);
  await page.click("#save-token");
  await page.waitForSelector(`#queue tr[data-id="${id}"]`);
  const rows = await page.locator("#queue tbody tr").count();
  await page.screenshot({ path: out + "/queue.png", fullPage: true });
  await page.click(`#queue tr[data-id="${id}"] a.open`);
  await page.waitForSelector("#tx");
  const state = await page.textContent("#state");
  const digest = await page.textContent("#digest");
  const approvals = await page.textContent("#approvals");
  await page.screenshot({ path: out + "/detail.png", fullPage: true });
  await page.click("#play");
  await page.waitForSelector("#player", { state: "visible" });
  await page.waitForFunction(() => document.getElementById("frame").naturalWidth > 0);
  const first = await page.textContent("#counter");
  await page.screenshot({ path: out + "/player.png" });
  await page.waitForFunction((c) => document.getElementById("counter").textContent !== c, first);
  const later = await page.textContent("#counter");
  await page.click("#close-player");
  await page.click("#nav-audit");
  await page.waitForSelector("#verify");
  const verify = await page.textContent("#verify");
  const auditRows = await page.locator("#audit tbody tr").count();
  await page.screenshot({ path: out + "/audit.png", fullPage: true });
  console.log(JSON.stringify({ refused, rows, state, digest, approvals, first, later, verify, auditRows, errors }));
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
