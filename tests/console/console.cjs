// Drives the operator console in headless Chromium (playwright-core, Debian chromium):
// wrong token, queue, request detail, audit view; then, as treasury, an exported
// request's QR player and the station's response imported by the camera, which Chromium's fake capture device feeds
// from a Y4M video of the station's QR frames. Screenshots go to OUT.
// Usage: node console.cjs URL TOKEN REQUEST_ID OUT TREASURY_TOKEN CAMERA_REQUEST_ID VIDEO.y4m
// (env PLAYWRIGHT_CORE, CHROMIUM)
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const [url, token, id, out, treasury, cameraId, video] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-video-capture=${video}`,
    ],
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
  // A confirmed request has nothing left to carry to a station.
  const transferNone = await page.locator("#transfer-none").isVisible();
  const playHidden = await page.locator("#play").isHidden();
  await page.click("#nav-audit");
  await page.waitForSelector("#verify");
  const verify = await page.textContent("#verify");
  const auditRows = await page.locator("#audit tbody tr").count();
  await page.screenshot({ path: out + "/audit.png", fullPage: true });
  // The station's answer through the camera.
  await page.fill("#token", treasury);
  await page.click("#save-token");
  await page.waitForSelector(`#queue tr[data-id="${cameraId}"]`);
  await page.click(`#queue tr[data-id="${cameraId}"] a.open`);
  await page.waitForSelector("#scan");
  const before = await page.textContent("#state");
  // The exported request's frames, played again for the station.
  await page.click("#play");
  await page.waitForSelector("#player", { state: "visible" });
  await page.waitForFunction(() => document.getElementById("frame").naturalWidth > 0);
  const first = await page.textContent("#counter");
  await page.screenshot({ path: out + "/player.png" });
  await page.waitForFunction((c) => document.getElementById("counter").textContent !== c, first);
  const later = await page.textContent("#counter");
  await page.click("#close-player");
  await page.click("#scan");
  await page.waitForSelector("#camera", { state: "visible" });
  // The video's stream spans many fragments, so progress shows before completion.
  await page.waitForFunction(() => /frames read:/.test(document.getElementById("scan-status").textContent), null, { timeout: 20000 });
  const progress = await page.textContent("#scan-status");
  await page.screenshot({ path: out + "/camera.png", fullPage: true });
  await page.waitForFunction(() => document.getElementById("result").textContent !== "", null, { timeout: 60000 });
  const imported = await page.textContent("#result");
  const cameraHidden = await page.locator("#camera").isHidden();
  const stateAfter = await page.textContent("#state");
  await page.screenshot({ path: out + "/imported.png", fullPage: true });
  console.log(JSON.stringify({ refused, rows, state, digest, approvals, transferNone, playHidden, first, later, verify, auditRows, before, progress, imported, cameraHidden, stateAfter, errors }));
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
