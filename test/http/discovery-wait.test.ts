// A sign-in that arrives while discovery re-reads the publisher waits for the fresh answer rather than failing
// or using a half-read node list (issue 5: "while it runs, new sign-ins wait rather than fail").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MDUDE, b64, basicOf, DOMAIN, startRig, type Rig } from './rig.js';

let rig: Rig;
before(async () => {
  rig = await startRig();
  await rig.core.discovery.whenFresh();
});
after(async () => {
  rig.inside.cluster.delayMs = 0;
  await rig.close();
});

test('a sign-in during a discovery refresh is answered after the refresh ends, with 200', async () => {
  const order: string[] = [];
  rig.inside.cluster.delayMs = 800; // the publisher is slow: the refresh stays running for a while
  const refresh = rig.core.discovery.refresh().then(() => order.push('refresh done'));
  assert.equal(rig.core.discovery.refreshing, true);
  const signIn = rig
    .get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`, {
      authorization: basicOf(MDUDE.id, MDUDE.password),
    })
    .then((r) => (order.push('sign-in answered'), r));
  const [r] = await Promise.all([signIn, refresh]);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /<edgeConfig>/);
  assert.deepEqual(order, ['refresh done', 'sign-in answered']);
});
