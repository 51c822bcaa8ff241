// Checks the heating demo's web page (statebus-web) in a real browser:
// headless Chromium driven by playwright-core. It knows nothing of how the
// demo was started (processes, launcher, a bridged second bus): it is given
// the page's URL and what the page must show.
//
// Usage: node check.mjs URL [options]
//
//   --room C              the room temperature the page must show, °C
//   --outside C           the outside temperature, °C
//   --tolerance K         how far a shown temperature may be from --room or
//                         --outside beyond the rounding of the page (default 0)
//   --setpoint C          the setpoint shown, °C (± the page's rounding)
//   --band K              the band shown, K
//   --mode heat|off       the mode shown
//   --heater on|off       the heater state shown
//   --switches N          the switch count shown, exactly
//   --min-readings N      the readings count shown is at least N (default 1)
//   --min-chart-points N  the chart's room line has at least N points (default 2)
//   --plan                the heating's plan ("Next: …", <p id=plan>) is shown and
//                         agrees with the figures shown: the heater state it names
//                         is the page's, the room temperature it plans for is the
//                         page's, and it names the threshold setpoint − band (to
//                         switch on) or setpoint + band (to switch off), or says
//                         the mode is off; with --set, it changes once the page
//                         shows the new setpoint, and agrees with it
//   --set C               type C into the setpoint form, submit it, then wait
//                         for the page to show setpoint C
//   --boost accepted|refused
//                         press "Boost 30 min" (after --set, if given), then wait
//                         for the page to show the heating's answer (<p id=boost>):
//                         "Boost accepted: …" with a plan line that says the
//                         heater is on, boosted; or "Boost refused: …" (a reason)
//   --timeout S           the bound of every wait, seconds (default 20)
//   --chromium PATH       the browser (default /usr/bin/chromium)
//   --screenshot FILE     a PNG of the page at the end, passed or failed
//
// Figures are waited for: the page refreshes itself every 2 s, and a figure
// that is not yet what is expected is read again after the next load, until
// --timeout. Prints what it saw, one line per check, then "web page check: OK"
// and exits 0; or "web page check: FAIL: …" lines and exits 1 (2: bad usage).
// Every wait is bounded, and a watchdog ends the whole run after
// 4 × --timeout.

import { parseArgs } from "node:util";

const USAGE = "usage: node check.mjs URL [--room C] [--outside C] [--tolerance K] [--setpoint C] [--band K] " +
  "[--mode heat|off] [--heater on|off] [--switches N] [--min-readings N] [--min-chart-points N] [--plan] [--set C] " +
  "[--boost accepted|refused] [--timeout S] [--chromium PATH] [--screenshot FILE]";

function usage(problem) {
  console.error(`check.mjs: ${problem}\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      room: { type: "string" },
      outside: { type: "string" },
      tolerance: { type: "string", default: "0" },
      setpoint: { type: "string" },
      band: { type: "string" },
      mode: { type: "string" },
      heater: { type: "string" },
      switches: { type: "string" },
      "min-readings": { type: "string", default: "1" },
      "min-chart-points": { type: "string", default: "2" },
      plan: { type: "boolean", default: false },
      set: { type: "string" },
      boost: { type: "string" },
      timeout: { type: "string", default: "20" },
      chromium: { type: "string", default: "/usr/bin/chromium" },
      screenshot: { type: "string" },
    },
  });
} catch (error) {
  usage(error.message);
}
const { values: opt, positionals } = parsed;
if (positionals.length !== 1) usage("give exactly one URL");
let url;
try {
  url = new URL(positionals[0]);
} catch {
  usage(`"${positionals[0]}" is not a URL`);
}

function number(name, { integer = false, min = -Infinity } = {}) {
  const text = opt[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    usage(`--${name} ${text}: not ${integer ? "an integer" : "a number"}${min > -Infinity ? ` ≥ ${min}` : ""}`);
  }
  return value;
}
function oneOf(name, choices) {
  const text = opt[name];
  if (text === undefined) return undefined;
  if (!choices.includes(text.toLowerCase())) usage(`--${name} ${text}: give ${choices.join(" or ")}`);
  return text.toLowerCase();
}

const expected = {
  room: number("room"),
  outside: number("outside"),
  setpoint: number("setpoint"),
  band: number("band"),
  mode: oneOf("mode", ["heat", "off"]),
  heater: oneOf("heater", ["on", "off"]),
  switches: number("switches", { integer: true, min: 0 }),
  minReadings: number("min-readings", { integer: true, min: 0 }),
  plan: opt.plan,
};
const tolerance = number("tolerance", { min: 0 });
const minChartPoints = number("min-chart-points", { integer: true, min: 0 });
const timeoutMs = number("timeout", { min: 0.1 }) * 1000;
// The form takes 5–30 °C (apps/home/src/web_main.cpp); another value would be ignored, not an error.
const setTo = number("set");
if (setTo !== undefined && (setTo < 5 || setTo > 30)) usage(`--set ${opt.set}: the page takes 5 to 30 °C`);
const boostAnswer = oneOf("boost", ["accepted", "refused"]);

// An error's message in a line or few, without the terminal colours playwright adds.
const brief = (error, lines = 1) =>
  String(error?.message ?? error).replace(/\x1b\[[0-9;]*m/g, "").split("\n").slice(0, lines).join(" | ");

const problems = [];
const say = (line) => console.log(line);
// Ends the run: a screenshot if asked for, the browser closed, the verdict.
async function finish(browser, page) {
  if (page && opt.screenshot) {
    try {
      await page.screenshot({ path: opt.screenshot, fullPage: true, timeout: timeoutMs });
      say(`screenshot: ${opt.screenshot}`);
    } catch (error) {
      say(`screenshot: none (${brief(error)})`);
    }
  }
  if (browser) await browser.close().catch(() => {});
  for (const problem of problems) say(`web page check: FAIL: ${problem}`);
  if (problems.length === 0) say("web page check: OK");
  process.exit(problems.length === 0 ? 0 : 1);
}

// The last resort: whatever hangs, the run ends.
const watchdog = setTimeout(() => {
  console.log(`web page check: FAIL: not done after ${(4 * timeoutMs) / 1000} s (4 × --timeout); giving up`);
  process.exit(1);
}, 4 * timeoutMs);
watchdog.unref();

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (error) {
  console.log(`web page check: FAIL: cannot load playwright-core (${brief(error)}); ` +
    "run scripts/setup-npm.sh to install it");
  process.exit(1);
}

// The figures as the page shows them, all from one document. Selectors and
// wording are those of statebus-web's "/" page.
function readFigures() {
  const big = document.querySelector("p.big");
  const line = big?.nextElementSibling;
  const figures = { missing: [] };
  if (!big) {
    figures.missing.push("no <p class=big> with the room temperature");
    return figures;
  }
  const decimals = (text) => (text.includes(".") ? text.split(".")[1].length : 0);
  const room = big.textContent.match(/(-?\d+(?:\.\d+)?)\s*°C\s*outside\s*(-?\d+(?:\.\d+)?)\s*°C/);
  if (room) {
    figures.room = { value: Number(room[1]), decimals: decimals(room[1]), text: room[1] };
    figures.outside = { value: Number(room[2]), decimals: decimals(room[2]), text: room[2] };
  } else {
    figures.missing.push(`room and outside temperature not found in "${big.textContent.trim()}"`);
  }
  const text = line?.textContent ?? "";
  const setpoint = text.match(/setpoint\s+(-?\d+(?:\.\d+)?)\s*±\s*(\d+(?:\.\d+)?)\s*°C,\s*mode\s+(\w+)/);
  if (setpoint) {
    figures.setpoint = { value: Number(setpoint[1]), decimals: decimals(setpoint[1]), text: setpoint[1] };
    figures.band = { value: Number(setpoint[2]), decimals: decimals(setpoint[2]), text: setpoint[2] };
    figures.mode = setpoint[3];
  } else {
    figures.missing.push(`setpoint, band and mode not found in "${text.trim()}"`);
  }
  const heater = line?.querySelector("b")?.textContent ?? text.match(/heater\s+(\S+)/)?.[1];
  if (heater) figures.heater = heater.trim();
  else figures.missing.push(`heater state not found in "${text.trim()}"`);
  const switches = text.match(/(\d+)\s+switches/);
  if (switches) figures.switches = Number(switches[1]);
  else figures.missing.push(`switch count not found in "${text.trim()}"`);
  const readings = text.match(/(\d+)\s+readings/);
  if (readings) figures.readings = Number(readings[1]);
  else figures.missing.push(`readings count not found in "${text.trim()}"`);
  const plan = document.querySelector("#plan");
  if (plan) figures.plan = plan.textContent.trim();
  const boost = document.querySelector("#boost");
  if (boost) figures.boost = boost.textContent.trim();
  return figures;
}

function describeFigures(f) {
  const t = (x) => (x ? x.text : "?");
  return `room ${t(f.room)} °C, outside ${t(f.outside)} °C, setpoint ${t(f.setpoint)} ± ${t(f.band)} °C ` +
    `mode ${f.mode ?? "?"}, heater ${f.heater ?? "?"}, ${f.switches ?? "?"} switches, ${f.readings ?? "?"} readings`;
}

// What differs between the figures shown and those expected (empty: all match).
function mismatches(f, want) {
  const out = [...f.missing];
  // A shown figure is rounded: it matches a value within half its last digit (plus --tolerance).
  const near = (name, shown, value, extra) => {
    if (value === undefined || !shown) return;
    const allowed = extra + 0.5 * 10 ** -shown.decimals + 1e-9;
    if (Math.abs(shown.value - value) > allowed) {
      out.push(`${name} shows ${shown.text}, expected ${value} (± ${Number(allowed.toFixed(6))})`);
    }
  };
  near("room", f.room, want.room, tolerance);
  near("outside", f.outside, want.outside, tolerance);
  near("setpoint", f.setpoint, want.setpoint, 0);
  near("band", f.band, want.band, 0);
  if (want.mode !== undefined && f.mode !== undefined && f.mode.toLowerCase() !== want.mode) {
    out.push(`mode shows ${f.mode}, expected ${want.mode}`);
  }
  if (want.heater !== undefined && f.heater !== undefined && f.heater.toLowerCase() !== want.heater) {
    out.push(`heater shows ${f.heater}, expected ${want.heater}`);
  }
  if (want.switches !== undefined && f.switches !== undefined && f.switches !== want.switches) {
    out.push(`switch count shows ${f.switches}, expected ${want.switches}`);
  }
  if (want.minReadings !== undefined && f.readings !== undefined && f.readings < want.minReadings) {
    out.push(`readings count shows ${f.readings}, expected at least ${want.minReadings}`);
  }
  if (want.plan) out.push(...planMismatches(f));
  if (want.planNot !== undefined && f.plan === want.planNot) out.push(`plan still shows "${f.plan}"`);
  if (want.boost !== undefined) out.push(...boostMismatches(f, want.boost));
  return out;
}

// What in the boost answer (and the plan after it) is not the `answer`
// expected: accepted with the heater on, boosted; or refused, with a reason.
function boostMismatches(f, answer) {
  if (f.boost === undefined) return ["no boost answer (<p id=boost>) on the page"];
  if (answer === "refused") {
    return /^Boost refused: \S/.test(f.boost) ? [] : [`the boost answer is "${f.boost}", expected a refusal`];
  }
  const out = [];
  if (!/^Boost accepted: heater on for 30 min/.test(f.boost)) {
    out.push(`the boost answer is "${f.boost}", expected "Boost accepted: heater on for 30 min …"`);
  }
  if (!/^Next:\s*heater on: boosted for \d+ more min/.test(f.plan ?? "")) {
    out.push(`the plan after the boost is "${f.plan ?? "(none)"}", expected "Next: heater on: boosted for … more min"`);
  }
  return out;
}

// What in the plan line disagrees with the figures shown beside it. Its
// wording is statebus-heating's (apps/home/src/controller.cpp, Plan):
// "heater on|off[, …]: R °C … below|above T °C …" or "heater …: the mode is off".
function planMismatches(f) {
  if (f.plan === undefined) return ["no plan line (<p id=plan>) on the page"];
  const plan = f.plan.match(/^Next:\s*(.*)$/s);
  if (!plan) return [`the plan line does not start with "Next:": "${f.plan}"`];
  const text = plan[1];
  const heater = text.match(/^heater (on|off)\b/);
  if (!heater) return [`the plan names no heater state: "${f.plan}"`];
  const out = [];
  if (f.heater !== undefined && heater[1] !== f.heater.toLowerCase()) {
    out.push(`the plan says heater ${heater[1]}, the page shows heater ${f.heater}: "${f.plan}"`);
  }
  const mode = f.mode?.toLowerCase();
  if (mode === "off") {
    if (!/the mode is off/.test(text)) out.push(`the mode shows off, the plan does not say so: "${f.plan}"`);
    return out;
  }
  // Both shown to their own rounding; the plan's figures to 0.01.
  const half = (shown) => 0.5 * 10 ** -shown.decimals;
  const room = text.match(/:\s*(-?\d+\.\d+) °C/);
  if (!room) {
    out.push(`the plan names no room temperature: "${f.plan}"`);
  } else if (f.room && Math.abs(Number(room[1]) - f.room.value) > tolerance + half(f.room) + 0.005 + 1e-9) {
    out.push(`the plan is for ${room[1]} °C, the page shows ${f.room.text} °C: "${f.plan}"`);
  }
  const threshold = text.match(/(below|above) (-?\d+\.\d+) °C/);
  if (!threshold) {
    out.push(`the plan names no threshold (below/above T °C): "${f.plan}"`);
  } else if (f.setpoint && f.band) {
    const sign = threshold[1] === "below" ? -1 : 1;
    const want = f.setpoint.value + sign * f.band.value;
    if (Math.abs(Number(threshold[2]) - want) > half(f.setpoint) + half(f.band) + 0.005 + 1e-9) {
      out.push(`the plan's threshold ${threshold[1]} ${threshold[2]} °C is not setpoint ${sign < 0 ? "−" : "+"} ` +
        `band (${f.setpoint.text} ${sign < 0 ? "−" : "+"} ${f.band.text} °C): "${f.plan}"`);
    }
  }
  return out;
}

const navigationGone = (error) =>
  /Execution context was destroyed|navigation|Target closed|frame was detached/i.test(error.message);

// Reads the figures until they match `want` or `timeoutMs` passes: after a
// mismatch it waits for the page's next load (it refreshes itself), or
// reloads it if none comes within 3 s. Returns the figures and what differs.
async function waitForFigures(page, want) {
  const deadline = Date.now() + timeoutMs;
  let figures = { missing: ["not read yet"] };
  let differs = [];
  for (let reads = 1; ; ++reads) {
    try {
      figures = await page.evaluate(readFigures);  // a reload meanwhile is caught below
      differs = mismatches(figures, want);
      if (differs.length === 0) return { figures, differs, reads };
    } catch (error) {
      if (!navigationGone(error)) throw error;
      differs = [`the page went away while being read (${brief(error)})`];
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { figures, differs, reads };
    try {
      await page.waitForEvent("load", { timeout: Math.min(remaining, 3000) });
    } catch {
      if (deadline - Date.now() > 0) {
        await page.reload({ waitUntil: "load", timeout: Math.max(deadline - Date.now(), 1) }).catch(() => {});
      }
    }
  }
}

// Runs `fn` in the page; if the page reloads itself meanwhile (it does every
// 2 s), waits for the new one and runs it again, until --timeout.
async function evaluateWhole(page, fn) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await page.evaluate(fn);
    } catch (error) {
      if (!navigationGone(error) || Date.now() >= deadline) throw error;
      await page.waitForLoadState("load", { timeout: Math.max(deadline - Date.now(), 1) });
    }
  }
}

// The chart: an inline <svg> laid out with a size, its legend's "room" line
// found by colour, with enough points inside the picture, a drawn length,
// and pixels painted once the browser rasterises it.
async function checkChart(page) {
  const svg = page.locator("svg").first();
  try {
    await svg.waitFor({ state: "visible", timeout: timeoutMs });
  } catch {
    problems.push(`no visible <svg> chart on the page within ${timeoutMs / 1000} s`);
    return;
  }
  const chart = await evaluateWhole(page, async () => {
    const svg = document.querySelector("svg");
    const box = svg.getBoundingClientRect();
    const out = { width: box.width, height: box.height, lines: svg.querySelectorAll("polyline").length };
    const legend = [...svg.querySelectorAll("text")].find((t) => t.textContent.trim() === "room");
    const colour = legend?.previousElementSibling?.getAttribute("fill");
    if (!colour) {
      out.problem = 'no legend entry "room" with a coloured mark before it';
      return out;
    }
    out.colour = colour;
    const line = [...svg.querySelectorAll("polyline")].find((p) => p.getAttribute("stroke") === colour);
    if (!line) {
      out.problem = `no <polyline> drawn in the room's colour ${colour}`;
      return out;
    }
    const view = svg.viewBox.baseVal;
    const points = [...line.points];
    out.points = points.length;
    out.outside = points.filter((p) => !(p.x >= view.x && p.x <= view.x + view.width &&
                                          p.y >= view.y && p.y <= view.y + view.height)).length;
    out.length = line.getTotalLength();
    out.lineWidth = line.getBoundingClientRect().width;
    // Rasterise the room line as the browser draws it (alone: the legend's
    // mark has its colour too) and count the pixels it paints.
    const alone = svg.cloneNode(false);
    alone.appendChild(line.cloneNode(true));
    const image = new Image();
    const blob = new Blob([new XMLSerializer().serializeToString(alone)], { type: "image/svg+xml" });
    image.src = URL.createObjectURL(blob);
    try {
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(view.width);
      canvas.height = Math.round(view.height);
      const context = canvas.getContext("2d");
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let hits = 0;
      for (let i = 3; i < pixels.length; i += 4) hits += pixels[i] > 0 ? 1 : 0;
      out.pixels = hits;
    } catch (error) {
      out.pixels = -1;
      out.rasterProblem = String(error);
    } finally {
      URL.revokeObjectURL(image.src);
    }
    return out;
  });
  say(`chart: <svg> ${Math.round(chart.width)}×${Math.round(chart.height)} px, ${chart.lines} lines` +
    (chart.points !== undefined
      ? `, room line (${chart.colour}) ${chart.points} points, ${Math.round(chart.length)} px long, ` +
        `${chart.pixels} px painted`
      : ""));
  if (!(chart.width > 0 && chart.height > 0)) problems.push("the chart's <svg> has no size on the page");
  if (chart.problem) {
    problems.push(`chart: ${chart.problem}`);
    return;
  }
  if (chart.points < minChartPoints) {
    problems.push(`chart: the room line has ${chart.points} points, expected at least ${minChartPoints}`);
  }
  if (chart.outside > 0) problems.push(`chart: ${chart.outside} of the room line's points lie outside the picture`);
  if (minChartPoints >= 2 && !(chart.length > 0 && chart.lineWidth > 0)) {
    problems.push("chart: the room line is not drawn (no length or no width on the page)");
  }
  if (chart.pixels < 0) problems.push(`chart: the browser could not rasterise it (${chart.rasterProblem})`);
  else if (minChartPoints >= 2 && chart.pixels === 0) problems.push("chart: the room line paints no pixel");
}

// Types `text` into the setpoint form and submits it, as a user does. The
// page refreshes itself every 2 s unless its input has the focus or a
// value, and must not reload under the user's fingers (that wipes what
// they typed). The page's timers run on a clock the check holds: paused
// while it focuses the input (a refresh just before the focus is the page's
// right, and under load it raced the click), then run for 4.5 s of the
// page's time with the input focused, and again with the text typed: two
// refreshes due each time. Returns the request.
async function submitSetpoint(page, text) {
  await holdRefresh(page);
  const form = page.locator("form:has(input[name=celsius])");
  const input = form.locator("input[name=celsius]");
  let reloaded = 0;
  const onNavigated = (frame) => { if (frame === page.mainFrame()) ++reloaded; };
  await input.click({ timeout: timeoutMs });
  await input.fill("", { timeout: timeoutMs });
  page.on("framenavigated", onNavigated);
  await page.clock.runFor(4500);
  await input.pressSequentially(text, { delay: 50, timeout: timeoutMs });
  await page.clock.runFor(4500);
  page.off("framenavigated", onNavigated);
  await page.clock.resume();
  if (reloaded > 0) {
    throw new Error(`the page reloaded ${reloaded} time(s) while a setpoint was being typed: its refresh wipes the input`);
  }
  const posted = page.waitForRequest((r) => r.method() === "POST" && r.frame() === page.mainFrame(),
                                     { timeout: timeoutMs });
  posted.catch(() => {});  // if the click fails, this wait must not end the run unhandled
  await form.locator("button, input[type=submit]").first().click({ timeout: timeoutMs });
  const request = await posted;
  const sent = new URLSearchParams(request.postData() ?? "").get("celsius");
  if (sent !== text) throw new Error(`the form posted celsius="${sent}", typed ${text}`);
  const response = await request.response();
  return { request, response, attempt: 1, notes: [] };
}

// Holds the page's timers on a clock the check owns, paused: its refresh
// cannot reload it under a click. Resume with page.clock.resume().
let clockInstalled = false;
async function holdRefresh(page) {
  if (!clockInstalled) {
    await page.clock.install();
    clockInstalled = true;
  }
  await page.clock.pauseAt((await evaluateWhole(page, () => Date.now())) + 1000);
  // The page's own refresh (due within 2 s) loads it onto the held clock;
  // reloading it here instead would race that refresh.
  try {
    await page.waitForEvent("load", { timeout: 3000 });
  } catch {
    await page.reload({ waitUntil: "load", timeout: timeoutMs });  // no refresh came: none can race this
  }
}

// Presses "Boost 30 min" as a user does, with the page's refresh held;
// returns the POST's response status.
async function pressBoost(page) {
  await holdRefresh(page);
  const posted = page.waitForRequest((r) => r.method() === "POST" && r.frame() === page.mainFrame(),
                                     { timeout: timeoutMs });
  posted.catch(() => {});  // if the click fails, this wait must not end the run unhandled
  await page.locator("button#boost30").click({ timeout: timeoutMs });
  const request = await posted;
  const sent = new URLSearchParams(request.postData() ?? "").get("minutes");
  if (sent !== "30") throw new Error(`the boost button posted minutes="${sent}", expected 30`);
  const response = await request.response();
  await page.waitForLoadState("load", { timeout: timeoutMs });
  await page.clock.resume();
  return response ? response.status() : "no response";
}

let browser;
let page;
try {
  browser = await chromium.launch({ executablePath: opt.chromium, headless: true, timeout: timeoutMs });
  say(`browser: ${opt.chromium} ${browser.version()} (headless)`);
  page = await browser.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.setDefaultNavigationTimeout(timeoutMs);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const response = await page.goto(url.href, { waitUntil: "load", timeout: timeoutMs });
  if (!response || response.status() !== 200) {
    problems.push(`GET ${url.href} answered ${response ? response.status() : "nothing"}, expected 200`);
  } else {
    say(`page: GET ${url.href} 200, title "${await page.title()}"`);
    const shown = await waitForFigures(page, expected);
    say(`figures: ${describeFigures(shown.figures)} (read ${shown.reads} time${shown.reads === 1 ? "" : "s"})`);
    if (expected.plan) say(`plan: ${shown.figures.plan ?? "(none)"}`);
    for (const differ of shown.differs) problems.push(`figures: ${differ}`);

    await checkChart(page);

    if (setTo !== undefined) {
      const submitted = await submitSetpoint(page, opt.set.trim());
      for (const note of submitted.notes) say(`form: ${note}`);
      const status = submitted.response ? submitted.response.status() : "no response";
      say(`form: typed ${opt.set.trim()}, submitted (POST ${new URL(submitted.request.url()).pathname} → ${status})`);
      if (submitted.response && submitted.response.status() >= 400) {
        problems.push(`form: the POST answered ${submitted.response.status()}`);
      }
      const after = await waitForFigures(page, { setpoint: setTo, plan: expected.plan,
                                                 planNot: expected.plan ? shown.figures.plan : undefined });
      say(`form: the page now shows ${describeFigures(after.figures)}`);
      if (expected.plan) say(`form: the plan now reads ${after.figures.plan ?? "(none)"}`);
      for (const differ of after.differs) problems.push(`after submitting ${setTo}: ${differ}`);
    }
    if (boostAnswer !== undefined) {
      const status = await pressBoost(page);
      say(`boost: pressed "Boost 30 min" (POST /boost-form → ${status})`);
      if (typeof status !== "number" || status >= 400) problems.push(`boost: the POST answered ${status}`);
      const after = await waitForFigures(page, { boost: boostAnswer });
      say(`boost: the page shows "${after.figures.boost ?? "(no answer)"}"; the plan reads ${after.figures.plan ?? "(none)"}`);
      for (const differ of after.differs) problems.push(`after the boost: ${differ}`);
    }
    for (const error of pageErrors) problems.push(`script error on the page: ${error}`);
  }
} catch (error) {
  problems.push(brief(error, 3));
}
await finish(browser, page);
