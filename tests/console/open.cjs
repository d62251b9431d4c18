// Opens the console in headless Chromium (playwright-core, Debian chromium), signs in
// with TOKEN and opens request ID's page. Script errors are collected in `errors`.
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

exports.openRequest = async (url, token, id) => {
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
  return { browser, page, errors };
};
