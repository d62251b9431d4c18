// Opens one request's page in the operator console (headless Chromium) and reports what
// it shows: each decoded payload's text, the digest, and any script error. A screenshot
// goes to OUT/detail-NAME.png.
// Usage: node detail.cjs URL TOKEN REQUEST_ID OUT NAME (env PLAYWRIGHT_CORE, CHROMIUM)
"use strict";
const { openRequest } = require("./open.cjs");
const [url, token, id, out, name] = process.argv.slice(2);

(async () => {
  const { browser, page, errors } = await openRequest(url, token, id);
  await page.waitForSelector("#tx, #error", { timeout: 10000 }).catch(() => {});
  const payloads = await page.locator("table.decoded").allTextContents();
  const digest = (await page.locator("#digest").count()) ? await page.textContent("#digest") : null;
  const pageError = (await page.locator("#error").count()) ? await page.textContent("#error") : null;
  await page.screenshot({ path: `${out}/detail-${name}.png`, fullPage: true });
  await browser.close();
  console.log(JSON.stringify({ payloads, digest, pageError, errors }));
})().catch((e) => { console.error(e); process.exit(1); });
