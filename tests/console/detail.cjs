// Opens one request's page in the operator console (headless Chromium) and reports what
// it shows: each decoded payload's text, the digest, the amount asked, then the vaults
// page's rows, and any script error. Screenshots go to OUT/detail-NAME.png and
// OUT/vaults-NAME.png.
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
  const pay = (await page.locator("#pay").count()) ? await page.textContent("#pay") : null;
  await page.screenshot({ path: `${out}/detail-${name}.png`, fullPage: true });
  // The vaults page: each vault's balance in units.
  await page.click("#nav-vaults");
  await page.waitForSelector("#vaults, #error", { timeout: 10000 }).catch(() => {});
  const vaults = await page.locator("#vaults tbody tr").allTextContents();
  await page.screenshot({ path: `${out}/vaults-${name}.png`, fullPage: true });
  await browser.close();
  console.log(JSON.stringify({ payloads, digest, pay, vaults, pageError, errors }));
})().catch((e) => { console.error(e); process.exit(1); });
