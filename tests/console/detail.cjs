// Opens one request's page in the operator console (headless Chromium) and reports what
// it shows: each decoded payload's text, the digest, and any script error. A screenshot
// goes to OUT/detail-NAME.png.
// Usage: node detail.cjs URL TOKEN REQUEST_ID OUT NAME (env PLAYWRIGHT_CORE, CHROMIUM)
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const [url, token, id, out, name] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url + "/console");
  await page.fill("#token", token);
  await page.click("#save-token");
  await page.waitForSelector(`#queue tr[data-id="${id}"]`);
  await page.click(`#queue tr[data-id="${id}"] a.open`);
  await page.waitForSelector("#tx, #error", { timeout: 10000 }).catch(() => {});
  const payloads = await page.locator("table.decoded").allTextContents();
  const digest = (await page.locator("#digest").count()) ? await page.textContent("#digest") : null;
  const pageError = (await page.locator("#error").count()) ? await page.textContent("#error") : null;
  await page.screenshot({ path: `${out}/detail-${name}.png`, fullPage: true });
  await browser.close();
  console.log(JSON.stringify({ payloads, digest, pageError, errors }));
})().catch((e) => { console.error(e); process.exit(1); });
