import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Lab } from '../../src/lab/index.js';
import { SipClient } from '../../src/lab/sip-client.js';
import { parseExposition } from './helpers.js';
import { audioSdp } from '../support/sdp.js';
import { startTestLab } from '../support/lab.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Screenshots stay after the run for a person to look at (gitignored).
const ARTEFACTS = join(process.env.MRA_ROOT ?? process.cwd(), 'test-artefacts', 'status-page');

let dir: string;
let lab: Lab;
let browser: BrowserContext;
let page: Page;

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} missing: apt-get install chromium (listed in scripts/apt-packages.txt [test])`);
  dir = mkdtempSync(join(tmpdir(), 'mra-status-page-'));
  mkdirSync(ARTEFACTS, { recursive: true });
  // The tests place their own call (maintenance mode): the lab's scheduled calls would race them.
  lab = await startTestLab(dir, { deskPhone: false });
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
  await lab?.close();
  rmSync(dir, { recursive: true, force: true });
});

// Runs in the page: decodes the PNG with the browser's own decoder and counts pixels near the colour.
const SHARE_IN_PAGE = `async ({ data, rgb }) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + data;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let hits = 0;
  for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - rgb[0]) + Math.abs(px[i + 1] - rgb[1]) + Math.abs(px[i + 2] - rgb[2]) < 60) hits++;
  return hits / (px.length / 4);
}`;

/** Share of a PNG's pixels near `rgb`, measured by the browser itself (no image library needed here). */
async function colourShare(png: Buffer, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    `(${SHARE_IN_PAGE})(${JSON.stringify({ data: png.toString('base64'), rgb })})`,
  ) as Promise<number>;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Writes the screenshot under test-artefacts/ and checks, from the file, that it is a real, full-size PNG. */
function keepScreenshot(png: Buffer, name: string, minHeight: number, width = 1280): { width: number; height: number } {
  const file = join(ARTEFACTS, name);
  writeFileSync(file, png);
  const back = readFileSync(file);
  assert.deepEqual(back.subarray(0, 8), PNG_SIGNATURE, `${name} is a PNG`);
  assert.equal(back.toString('latin1', 12, 16), 'IHDR');
  const size = { width: back.readUInt32BE(16), height: back.readUInt32BE(20) };
  assert.equal(size.width, width, `${name} spans the viewport`);
  assert.ok(size.height >= minHeight, `${name} is ${size.height}px high: the page has its sections`);
  assert.ok(back.length > 20_000, `${name} holds a rendered page (${back.length} bytes), not a blank one`);
  return size;
}

const sectionText = (id: string) => page.locator(`#${id}`).innerText();
/** Waits until a section's rendered text matches (the page polls /api/status every second). */
const waitText = (id: string, re: RegExp, timeout = 15_000) =>
  page.waitForFunction(
    `new RegExp(${JSON.stringify(re.source)}).test(document.getElementById(${JSON.stringify(id)})?.innerText ?? '')`,
    undefined,
    { timeout },
  );

test('the core status page shows the link up, registered clients, domains, discovered zones and rules', async () => {
  const url = `http://127.0.0.1:${lab.core.ports.admin}/`;
  await page.goto(url);
  assert.equal(await page.title(), 'Status > Unified Communications');
  const link = page.locator('#link-state');
  await link.filter({ hasText: 'link up' }).waitFor({ timeout: 15_000 });
  // The lab's simulated clients signed in and registered through the edge; core counts them.
  await waitText('s-sip', /registrations\s+3\b/, 30_000);
  // ...and each keeps an XMPP session, which core relays to the lab's IM and Presence.
  await waitText('s-xmpp', /streams\s+3\b/, 30_000);
  assert.match(await sectionText('s-xmpp'), /127\.0\.3\.1:\d+/, 'each stream names its IM&P node');
  await page.locator('#s-domains').filter({ hasText: 'lab.example.com' }).waitFor();
  assert.match(await sectionText('s-domains'), /SIP registrations and provisioning on Unified CM/);
  await page.locator('#s-discovery').filter({ hasText: 'CEtcp-127.0.3.1' }).waitFor();
  assert.match(await sectionText('s-discovery'), /\/cucm-uds\//);
  assert.match(await sectionText('s-http'), /allowList[\s\S]*automatic\s+\d/);
  assert.match(await sectionText('s-traversal'), /peer[\s\S]*edge1/);
  assert.match(await sectionText('alarms'), /no alarms/);

  // The screenshot, not just the DOM: the link badge is drawn, and drawn in the "up" green.
  const shot = await link.screenshot();
  assert.ok((await colourShare(shot, [0x0a, 0x7d, 0x2c])) > 0.5, 'the link badge is drawn green');
  const full = await page.screenshot({ fullPage: true });
  keepScreenshot(full, 'core-status.png', 900);
  assert.ok((await colourShare(full, [0x04, 0x40, 0x5e])) > 0.01, 'the page header is drawn');

  // /metrics of the same running core carries the figures the page shows.
  const { samples } = parseExposition(await (await fetch(`${url}metrics`)).text());
  const doc = (await (await fetch(`${url}api/status`)).json()) as {
    sip: { registrations: number };
    discovery: { zones: string[] };
  };
  const metric = (name: string, labels: Record<string, string> = {}) =>
    samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
  assert.equal(metric('mra_traversal_link_up'), 1);
  assert.equal(metric('mra_sip_registrations'), doc.sip.registrations);
  assert.equal(metric('mra_sip_registrations'), 3);
  assert.equal(metric('mra_discovery_zones'), doc.discovery.zones.length);
  assert.equal(metric('mra_alarms', { severity: 'error' }), 0);
});

test('an alarm appears live on the page and clears when its cause goes away', async () => {
  const core = `http://127.0.0.1:${lab.core.ports.admin}`;
  await page.goto(`${core}/`);
  await page.locator('#alarms').filter({ hasText: 'no alarms' }).waitFor({ timeout: 15_000 });
  lab.inside.cluster.misbehave = 'garbage';
  try {
    assert.equal((await fetch(`${core}/api/actions/discovery-refresh`, { method: 'POST' })).status, 200);
    await waitText('alarms', /discovery\.unified_cm\.127\.0\.3\.1[\s\S]*not an AXL/, 5000);
    assert.match(await sectionText('alarms'), /discovery\.stale/);
    const row = page.locator('#alarms tr.alarm-error').first();
    assert.ok(
      (await colourShare(await row.screenshot(), [0xb3, 0x26, 0x1e])) > 0.005,
      'an error alarm is drawn in red',
    );
    keepScreenshot(await page.screenshot({ fullPage: true }), 'core-alarm.png', 900);
  } finally {
    lab.inside.cluster.misbehave = undefined;
  }
  await fetch(`${core}/api/actions/discovery-refresh`, { method: 'POST' });
  await waitText('alarms', /no alarms/, 5000);
});

test('maintenance mode on the edge: the page says so live, a call and the chat sessions hold the drain until they end, a new registration is refused, the existing ones stay', async () => {
  const edge = `http://127.0.0.1:${lab.edge.ports.admin}`;
  await page.goto(`${edge}/`);
  await page.locator('#node').filter({ hasText: 'edge edge1' }).waitFor({ timeout: 5000 });
  await waitText('s-sip', /registrations\s+3\b/, 30_000);
  await waitText('s-xmpp', /streams\s+3\b/, 30_000);
  assert.match(await sectionText('s-xmpp'), /mdude@lab\.example\.com\/lab-0/, 'the edge lists each stream by its JID');
  assert.match(await sectionText('s-intrusion'), /blocks\s+0/);
  keepScreenshot(await page.screenshot({ fullPage: true }), 'edge-status.png', 700);

  const client = () =>
    new SipClient({
      host: lab.configs.edge.public.address,
      port: lab.edge.ports.sipTls!,
      servername: 'edge.lab.example.com',
      ca: readFileSync(lab.configs.edge.tls.ca_file, 'utf8'),
      user: 'alice',
      password: 'alice-pw',
      domain: 'lab.example.com',
      expiresS: 120,
      timeoutMs: 5000,
    });
  let r = await fetch(`${edge}/api/maintenance`, { method: 'POST', body: '{"on":true}' });
  assert.equal(r.status, 200);
  await page.locator('#maint').filter({ hasText: '(Maintenance mode)' }).waitFor({ timeout: 5000 });
  // The lab clients' chat sessions continue and hold the edge up; registrations are not waited for.
  await page.locator('#drain').filter({ hasText: 'draining: xmpp.streams 3' }).waitFor({ timeout: 5000 });
  // A call from the inside that alice picks up holds the edge up until its BYE.
  const call = await lab.inside.callControl.request('alice@lab.example.com', 'INVITE', audioSdp(), 'application/sdp');
  assert.equal(call.status, 200, call.reason);
  await page
    .locator('#drain')
    .filter({ hasText: 'draining: sip.calls 1, media.calls 1, xmpp.streams 3' })
    .waitFor({ timeout: 5000 });
  assert.match(
    await sectionText('s-sip'),
    /alice@lab\.example\.com\s+callcontrol@lab\.example\.com\s+to client\s+active/,
  );
  assert.equal(
    (await lab.inside.callControl.request('alice@lab.example.com', 'BYE', '', 'text/plain', 5000, [], call.dialog))
      .status,
    200,
  );
  await page
    .locator('#drain')
    .filter({ hasText: /^draining: xmpp\.streams 3$/ })
    .waitFor({ timeout: 5000 });
  // IM&P ends the chat sessions; the clients' attempts to come back are refused while the edge is in maintenance.
  lab.inside.imp.endSessions();
  await page
    .locator('#drain')
    .filter({ hasText: /drained: .*safe to stop \(3 registrations/ })
    .waitFor({ timeout: 5000 });
  const late = client();
  try {
    await late.connect();
    const refused = await late.register();
    assert.equal(refused.status, 503, `a new registration in maintenance mode: ${refused.status} ${refused.reason}`);
    assert.match(refused.response?.header('reason') ?? '', /Maintenance mode/);
    assert.match(await sectionText('s-sip'), /registrations\s+3\b/, 'the registrations already there stay');
  } finally {
    late.close();
  }
  r = await fetch(`${edge}/api/maintenance`, { method: 'POST', body: '{"on":false}' });
  assert.equal(r.status, 200);
  await page.waitForFunction(
    "document.getElementById('maint').textContent === '' && document.getElementById('drain').textContent === ''",
    undefined,
    { timeout: 5000 },
  );
  const back = client();
  try {
    await back.connect();
    assert.equal((await back.register()).status, 200, 'accepted again once maintenance mode is off');
    // Unregister so the other tests' counts are the lab's own clients.
    assert.equal((await back.register(0)).status, 200);
  } finally {
    back.close();
  }
  // The lab clients' chat sessions come back as they retry.
  await waitText('s-xmpp', /streams\s+3\b/, 15_000);
});

test('removing a lab node and refreshing removes its zone from the core page', async () => {
  const core = `http://127.0.0.1:${lab.core.ports.admin}`;
  lab.inside.cluster.nodes.push({ name: 'cucm2.lab.example.com' });
  let r = await fetch(`${core}/api/actions/discovery-refresh`, { method: 'POST' });
  assert.deepEqual(((await r.json()) as { result: { zones: string[] } }).result.zones, [
    'CEtcp-127.0.3.1',
    'CEtcp-cucm2.lab.example.com',
  ]);
  await page.goto(`${core}/`);
  await page.locator('#s-discovery').filter({ hasText: 'CEtcp-cucm2.lab.example.com' }).waitFor({ timeout: 5000 });
  lab.inside.cluster.nodes.pop();
  r = await fetch(`${core}/api/actions/discovery-refresh`, { method: 'POST' });
  assert.equal(r.status, 200);
  await page.waitForFunction("!document.getElementById('s-discovery').innerText.includes('cucm2')", undefined, {
    timeout: 5000,
  });
});

/** Every cell and section of the overview whose content is wider than its box: none may be (nothing cut off). */
const CLIPPED_IN_PAGE = `(() => {
  const out = [];
  for (const el of document.querySelectorAll('#sections section, #sections td, #sections th')) {
    if (el.scrollWidth > el.clientWidth + 1) out.push((el.closest('section')?.id ?? '?') + ': ' + el.textContent.slice(0, 60));
  }
  return out;
})()`;

test('no value is cut off: at 1280 and at 900 px every cell of both pages shows its whole value (the TLS counters with their numbers)', async () => {
  for (const [node, port] of [
    ['core', lab.core.ports.admin],
    ['edge', lab.edge.ports.admin],
  ] as const) {
    for (const width of [1280, 900]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`http://127.0.0.1:${port}/`);
      await waitText('s-sip', /registrations\s+3\b/, 30_000);
      const clipped = (await page.evaluate(CLIPPED_IN_PAGE)) as string[];
      assert.deepEqual(clipped, [], `${node} at ${width} px: cells wider than their box`);
      keepScreenshot(await page.screenshot({ fullPage: true }), `${node}-overview-${width}.png`, 700, width);
    }
    if (node === 'edge') {
      const sip = await sectionText('s-sip');
      assert.match(sip, /tls\.handshakeFailures\s+0\b/, 'a nested counter is a row with its value');
      assert.match(sip, /tls\.bytesIn\s+\d+/);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  // The lab is one pair: the page says the node runs alone and lists its one peer of the other role, linked.
  assert.match(
    await sectionText('s-cluster'),
    /runs alone: one (edge|core) peer\.[\s\S]*Peer\s+Address\s+State[\s\S]*\bup\b/,
    'the cluster peers',
  );
});

test('registrations: the list with search by user and by domain', async () => {
  await page.goto(`http://127.0.0.1:${lab.edge.ports.admin}/`);
  await page.click('#tab-registrations');
  await page.locator('#reg-list table').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#reg-list tr').count(), 4, 'a header and the 3 lab clients');
  assert.match(await page.locator('#reg-list').innerText(), /alice@lab\.example\.com\s+127\.0\.0\.1:\d+/);
  await page.fill('#reg-user', 'car');
  await page.click('#reg-form button');
  await page.waitForFunction("document.querySelectorAll('#reg-list tr').length === 2", undefined, { timeout: 5000 });
  assert.match(await page.locator('#reg-list').innerText(), /carol@lab\.example\.com/);
  await page.fill('#reg-user', '');
  await page.fill('#reg-domain', 'elsewhere.example.com');
  await page.click('#reg-form button');
  await page.locator('#reg-list').filter({ hasText: 'no registrations' }).waitFor({ timeout: 5000 });
  keepScreenshot(await page.screenshot({ fullPage: true }), 'edge-registrations.png', 400);
});

test('calls: a live call is listed, found by search, and its legs show their media per stream and side', async () => {
  const call = await lab.inside.callControl.request('alice@lab.example.com', 'INVITE', audioSdp(), 'application/sdp');
  assert.equal(call.status, 200, call.reason);
  try {
    await page.goto(`http://127.0.0.1:${lab.core.ports.admin}/`);
    await page.click('#tab-calls');
    await page.locator('#call-list button.call').first().waitFor({ timeout: 10_000 });
    assert.match(
      await page.locator('#call-list').innerText(),
      /alice@lab\.example\.com\s+callcontrol@lab\.example\.com\s+to client\s+active/,
    );
    await page.fill('#call-user', 'bob');
    await page.click('#call-form button');
    await page.locator('#call-list').filter({ hasText: 'no calls' }).waitFor({ timeout: 5000 });
    await page.fill('#call-user', 'alice');
    await page.click('#call-form button');
    await page.locator('#call-list button.call').first().click();
    await page.locator('#call-detail table.media').waitFor({ timeout: 5000 });
    const detail = await page.locator('#call-detail').innerText();
    assert.match(detail, /alice@lab\.example\.com ↔ callcontrol@lab\.example\.com/);
    assert.match(detail, /Packets in[\s\S]*Loss %[\s\S]*SRTP auth failures[\s\S]*Latched to/);
    assert.equal(
      await page.locator('#call-detail table.media tr').count(),
      3,
      'a header and sides a and b of the one stream',
    );
    keepScreenshot(await page.screenshot({ fullPage: true }), 'core-call-media.png', 400);
  } finally {
    assert.equal(
      (await lab.inside.callControl.request('alice@lab.example.com', 'BYE', '', 'text/plain', 5000, [], call.dialog))
        .status,
      200,
    );
  }
});

test('alarms: Acknowledge marks one, it stays until its cause goes; maintenance mode on and off from the header', async () => {
  const core = `http://127.0.0.1:${lab.core.ports.admin}`;
  await page.goto(`${core}/`);
  await page.locator('#alarms').filter({ hasText: 'no alarms' }).waitFor({ timeout: 15_000 });
  lab.inside.cluster.misbehave = 'garbage';
  try {
    await fetch(`${core}/api/actions/discovery-refresh`, { method: 'POST' });
    const button = page.locator('#alarms button.ack[data-id="discovery.unified_cm.127.0.3.1"]');
    await button.waitFor({ timeout: 5000 });
    await button.click();
    await page
      .locator('#alarms tr', { hasText: 'discovery.unified_cm.127.0.3.1' })
      .filter({ hasText: 'acknowledged' })
      .waitFor({ timeout: 5000 });
    await page.click('#tab-alarms');
    await page.locator('#alarm-list').filter({ hasText: 'acknowledged' }).waitFor({ timeout: 5000 });
    assert.ok((await page.locator('#alarm-list button.ack').count()) >= 1, 'the others can still be acknowledged');
    keepScreenshot(await page.screenshot({ fullPage: true }), 'core-alarms-acknowledged.png', 300);
  } finally {
    lab.inside.cluster.misbehave = undefined;
  }
  await fetch(`${core}/api/actions/discovery-refresh`, { method: 'POST' });
  await page.click('#tab-overview');
  await waitText('alarms', /no alarms/, 5000);

  await page.click('#maint-toggle');
  await page.locator('#maint').filter({ hasText: '(Maintenance mode)' }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#maint-toggle').innerText(), 'Leave maintenance mode');
  assert.equal(lab.core.status() && (lab.core.status() as { maintenance: boolean }).maintenance, true);
  await page.click('#maint-toggle');
  await page.waitForFunction("document.getElementById('maint').textContent === ''", undefined, { timeout: 5000 });
  assert.equal((lab.core.status() as { maintenance: boolean }).maintenance, false);
});
