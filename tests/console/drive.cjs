// Drives one operator-console session in headless Chromium (playwright-core, Debian
// chromium) by commands, one JSON object a line on stdin; each answer is one JSON line
// on stdout. The test walks a request through its life between commands (approvals
// with the approver's tool, the station's signing) while this page stays open, so
// what the page shows arrives by its own live updates.
//
// Commands ({"do": …}):
//   login {token, page_size}              sign in; answers the queue's row count
//   create {network, asset, amount, destination, purpose, memo, batch}
//                                         the New request form (`batch`: lines "address
//                                         amount"); answers id, result, state
//   open {id}                             the request's page; answers state
//   wait {state, timeout}                 waits (no reload) until the page shows state,
//                                         its reason and history included
//   look {}                               state, why, history, decided text, approvals
//   decide {action, reason}               clear / reject / cancel with a reason
//   play {kind, name}                     "ur" (export, or replay) or "bbqr": the player's
//                                         kind, frame count, counter before and after it
//                                         advances (when there is more than one frame)
//   wallet {path, fingerprint, name}      the approver's wallet QR (eth-sign-request):
//                                         player kind, frame count, typed data shown
//   wallet_answer {frames}                posts the wallet's eth-signature frames
//   download {dir, button}                the USB bundle (or what `button` saves, such
//                                         as #download-psbt); the saved file's path
//   upload {path}                         imports a bundle file; answers result and state
//   paste {frames}                        imports frame texts; answers result and state
//   queue {state, network}                filters the queue; rows, and whether Older shows
//   older {}                              the next page of the queue
//   overtaken {slow, fast}                applies filter `slow` ({state, network}), whose
//                                         answer the browser gets 1.5 s late, then `fast`
//                                         at once; the rows shown once both answered
//   into_vault {action, network}          on the Vaults page, "consolidate" or "sweep"
//                                         the network's vault; answers id, result, state
//   shot {name}                           a full-page screenshot OUT/NAME.png
// Usage: node drive.cjs URL OUT (env PLAYWRIGHT_CORE, CHROMIUM)
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const readline = require("readline");
const path = require("path");
const [url, out] = process.argv.slice(2);

const text = async (page, sel) => ((await page.locator(sel).count()) ? (await page.textContent(sel)).trim() : null);

// Clicks `button` and waits for the queue it shows to be drawn anew.
async function fresh(page, button) {
  await page.evaluate(() => { const q = document.getElementById("queue"); if (q) q.dataset.stale = "1"; });
  await page.click(button);
  await page.waitForSelector("#queue:not([data-stale])");
}

async function result(page) {
  await page.waitForSelector("#result span", { timeout: 30000 });
  return { result: await text(page, "#result"), state: await text(page, "#state") };
}

const commands = {
  async login(page, c) {
    await page.goto(url + "/console" + (c.page_size ? `?page_size=${c.page_size}` : ""));
    await page.fill("#token", c.token);
    await page.click("#save-token");
    await page.waitForSelector("#queue");
    await page.waitForFunction(() => document.getElementById("live").textContent === "live");
    return { rows: await page.locator("#queue tbody tr").count() };
  },
  async create(page, c) {
    await page.click("#nav-new");
    await page.waitForSelector("#new-form");
    await page.selectOption("#n-network", c.network);
    await page.fill("#n-asset", c.asset || "native");
    await page.fill("#n-amount", c.amount);
    await page.fill("#n-destination", c.destination);
    await page.selectOption("#n-purpose", c.purpose || "withdrawal");
    await page.fill("#n-memo", c.memo || "");
    await page.fill("#n-batch", (c.batch || []).join("\n"));
    const unit = await text(page, "#n-unit");
    await page.click("#create");
    await page.waitForSelector("#result span", { timeout: 30000 });
    const res = await text(page, "#result");
    const id = (await page.locator("#created").count()) ? (await text(page, "h2 .mono")) : null;
    return { id, unit, result: res, state: await text(page, "#state") };
  },
  async open(page, c) {
    await page.click("#nav-queue");
    await page.waitForSelector(`#queue tr[data-id="${c.id}"]`);
    await page.click(`#queue tr[data-id="${c.id}"] a.open`);
    await page.waitForFunction(() => document.getElementById("state") && document.getElementById("state").textContent !== "");
    return { state: await text(page, "#state") };
  },
  async wait(page, c) {
    // The badge, and the rest of the page drawn for that state (reason, history).
    await page.waitForFunction((s) => { const e = document.getElementById("state"); return e.textContent === s && e.dataset.shown === s; }, c.state, { timeout: c.timeout || 60000 });
    return { state: c.state };
  },
  async look(page) {
    const history = await page.locator("#history tbody tr").allTextContents();
    const why = (await page.locator("#why-row").isVisible()) ? await text(page, "#why") : null;
    const offered = [];
    for (const b of ["clear", "reject", "cancel"]) if (await page.locator("#" + b).count()) offered.push(b);
    return {
      state: await text(page, "#state"), why, history, offered,
      approveShown: await page.locator("#approve").isVisible(),
      approvals: await text(page, "#approvals"),
      payloads: await page.locator("table.decoded").allTextContents(),
      batch: await page.locator("#batch li").allTextContents(),
    };
  },
  async decide(page, c) {
    await page.fill("#reason", c.reason || "");
    await page.click("#" + c.action);
    return result(page);
  },
  async play(page, c) {
    const button = c.kind === "bbqr" ? "#play-bbqr" : (await page.locator("#state").textContent()) === "approved" ? "#export" : "#play";
    await page.click(button);
    await page.waitForSelector("#player", { state: "visible" });
    await page.waitForFunction(() => document.getElementById("frame").naturalWidth > 0);
    const first = await text(page, "#counter");
    const kind = await text(page, "#player-kind");
    await page.screenshot({ path: path.join(out, `${c.name}.png`) });
    const total = Number(first.split("/ ")[1]);
    if (total > 1) await page.waitForFunction((f) => document.getElementById("counter").textContent !== f, first, { timeout: 20000 });
    const later = await text(page, "#counter");
    await page.click("#close-player");
    return { kind, first, later, total, shot: path.join(out, `${c.name}.png`) };
  },
  async wallet(page, c) {
    await page.fill("#w-path", c.path);
    await page.fill("#w-fp", c.fingerprint || "");
    await page.click("#wallet-qr");
    await page.waitForSelector("#player", { state: "visible" });
    await page.waitForFunction(() => document.getElementById("frame").naturalWidth > 0);
    const counter = await text(page, "#counter");
    const kind = await text(page, "#player-kind");
    const shot = path.join(out, `${c.name}.png`);
    await page.screenshot({ path: shot });
    await page.click("#close-player");
    return { kind, total: Number(counter.split("/ ")[1]), typed: await page.textContent("#typed"), shot };
  },
  async wallet_answer(page, c) {
    await page.fill("#w-frames", c.frames.join("\n"));
    await page.click("#wallet-answer");
    return result(page);
  },
  async download(page, c) {
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click(c.button || "#download")]);
    const file = path.join(c.dir, dl.suggestedFilename());
    await dl.saveAs(file);
    const { result: said } = await result(page);
    return { file, result: said };
  },
  async upload(page, c) {
    await page.evaluate(() => { document.getElementById("result").textContent = ""; });
    await page.setInputFiles("#bundle", c.path);
    await page.click("#import-bundle");
    return result(page);
  },
  async paste(page, c) {
    await page.evaluate(() => { document.getElementById("result").textContent = ""; });
    await page.fill("#frames", c.frames.join("\n"));
    await page.click("#import-frames");
    return result(page);
  },
  async queue(page, c) {
    await fresh(page, "#nav-queue");
    await page.selectOption("#f-state", c.state || "");
    await page.fill("#f-network", c.network || "");
    await fresh(page, "#f-apply");
    return this.rows(page);
  },
  async overtaken(page, c) {
    const late = (u) => { const q = new URL(u).searchParams; return q.get("state") === (c.slow.state || null) && q.get("network") === (c.slow.network || null); };
    let answered;
    const slowDone = new Promise((r) => { answered = r; });
    await page.route((u) => u.pathname === "/v1/requests" && late(u.href), async (route) => {
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ response });
      answered();
    });
    try {
      await fresh(page, "#nav-queue");
      await page.selectOption("#f-state", c.slow.state || "");
      await page.fill("#f-network", c.slow.network || "");
      await page.click("#f-apply");
      await page.selectOption("#f-state", c.fast.state || "");
      await page.fill("#f-network", c.fast.network || "");
      await fresh(page, "#f-apply");
      await slowDone;
      await page.waitForTimeout(200);
    } finally {
      await page.unrouteAll({ behavior: "wait" });
    }
    return this.rows(page);
  },
  async older(page) {
    await fresh(page, "#older");
    return this.rows(page);
  },
  async rows(page) {
    return {
      ids: await page.locator("#queue tbody tr").evaluateAll((rs) => rs.map((r) => r.dataset.id)),
      states: await page.locator("#queue tbody tr .state").allTextContents(),
      older: await page.locator("#older").isVisible(),
      page: await text(page, "#page-at"),
    };
  },
  async into_vault(page, c) {
    // The Vaults page drawn anew (not an earlier one's buttons and answer).
    await page.evaluate(() => { const v = document.getElementById("vaults"); if (v) v.dataset.stale = "1"; });
    await page.click("#nav-vaults");
    await page.waitForSelector("#vaults:not([data-stale])");
    const button = `#vaults button.${c.action}[data-network="${c.network}"]`;
    await page.waitForSelector(button);
    await page.click(button);
    await page.waitForSelector("#result span, #vault-result span", { timeout: 30000 });
    if (await page.locator("#vault-result span").count()) return { id: null, result: await text(page, "#vault-result"), state: null };
    return { id: await text(page, "h2 .mono"), result: await text(page, "#result"), state: await text(page, "#state") };
  },
  async shot(page, c) {
    await page.screenshot({ path: path.join(out, `${c.name}.png`), fullPage: true });
    return {};
  },
};

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    let answer;
    try {
      const f = commands[c.do];
      if (!f) throw new Error(`no command ${c.do}`);
      answer = Object.assign({ ok: true }, await f.call(commands, page, c));
    } catch (e) {
      await page.screenshot({ path: path.join(out, `failed-${c.do}.png`), fullPage: true }).catch(() => {});
      answer = { ok: false, error: String(e && e.message || e) };
    }
    answer.errors = errors.splice(0);
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
