// The operator console's decisions (headless Chromium): opens one request as TOKEN, says
// which decisions the page offers, and, when ACTION is given (clear, reject, cancel,
// speed-up, cancel-tx), types REASON where there is a reason to give and takes it.
// Reports the buttons offered, the answer shown, the state, and the request then shown
// (a replacement opens the new request).
// A screenshot goes to OUT/decide-NAME.png.
// Usage: node decide.cjs URL TOKEN REQUEST_ID OUT NAME [ACTION REASON]
"use strict";
const { openRequest } = require("./open.cjs");
const [url, token, id, out, name, action, reason] = process.argv.slice(2);

(async () => {
  const { browser, page, errors } = await openRequest(url, token, id);
  await page.waitForSelector("#actions");
  const offered = [];
  for (const b of ["clear", "reject", "cancel", "speed-up", "cancel-tx"]) {
    if (await page.locator("#" + b).count()) offered.push(b);
  }
  const approveShown = await page.locator("#approve").isVisible();
  let result = null;
  if (action) {
    if (await page.locator("#reason").count()) await page.fill("#reason", reason || "");
    await page.click("#" + action);
    await page.waitForSelector("#result span");
    result = await page.textContent("#result");
  }
  const state = await page.textContent("#state");
  const shown = await page.textContent("h2 .mono");
  await page.screenshot({ path: `${out}/decide-${name}.png`, fullPage: true });
  await browser.close();
  console.log(JSON.stringify({ offered, approveShown, result, state, shown, errors }));
})().catch((e) => { console.error(e); process.exit(1); });
