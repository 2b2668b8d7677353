import { describe, expect, it } from 'vitest';
import { TransactionLayer, responseTarget, type ServerTransaction } from '../../src/sip/transaction-layer.js';
import {
  createRequest,
  createResponse,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/message.js';
import { parseVia } from '../../src/sip/headers.js';
import { FakeTimerClock } from '../../src/testing/fake-clock.js';
import type { SipFlow, SipTarget } from '../../src/sip/transport.js';

const flow: SipFlow = {
  protocol: 'udp',
  remoteAddress: '198.51.100.7',
  remotePort: 5070,
  localAddress: '127.0.0.1',
  localPort: 5061,
  connectionId: undefined,
};
const trunk: SipTarget = { protocol: 'udp', host: '198.51.100.7', port: 5070 };

function setup() {
  const sent: { msg: SipMessage; target: SipTarget }[] = [];
  const requests: { req: SipRequest; tx: ServerTransaction | undefined }[] = [];
  const strays: SipResponse[] = [];
  const clock = new FakeTimerClock();
  const layer = new TransactionLayer({
    transport: {
      send: (msg, target) => {
        sent.push({ msg, target });
        return Promise.resolve(flow);
      },
    },
    clock,
    timers: { t1: 100, t2: 800, t4: 1000 },
    user: {
      onRequest: (req, tx) => requests.push({ req, tx }),
      onStrayResponse: (res) => strays.push(res),
    },
  });
  return { layer, sent, requests, strays, clock };
}

const req = (method: string, branch: string, sentBy = '198.51.100.7:5070') =>
  createRequest(method, 'sip:bridge@127.0.0.1', [
    ['Via', `SIP/2.0/UDP ${sentBy};branch=${branch}`],
    ['From', '<sip:a@b>;tag=f'],
    ['To', '<sip:c@d>;tag=t'],
    ['Call-ID', 'cid'],
    ['CSeq', `1 ${method}`],
  ]);
const res = (status: number, branch: string, method: string) =>
  createResponse(status, 'X', [
    ['Via', `SIP/2.0/UDP 127.0.0.1:5061;branch=${branch};rport=5061`],
    ['From', '<sip:a@b>;tag=f'],
    ['To', '<sip:c@d>;tag=t'],
    ['Call-ID', 'cid'],
    ['CSeq', `1 ${method}`],
  ]);

describe('transaction layer matching (RFC 3261 §17.1.3, §17.2.3)', () => {
  it('"the response matches a client transaction if ... the branch parameter in the top Via ... and the method parameter in the CSeq" match', () => {
    const { layer, strays } = setup();
    const got: string[] = [];
    const user = (name: string) => ({
      onResponse: (r: SipResponse) => got.push(`${name} ${r.status}`),
      onTimeout: () => {},
      onTransportError: () => {},
    });
    const invite = req('INVITE', 'z9hG4bKaaa');
    layer.sendInvite(invite, trunk, user('invite'));
    const cancel = req('CANCEL', 'z9hG4bKaaa');
    layer.sendRequest(cancel, trunk, user('cancel'));
    layer.receive(res(200, 'z9hG4bKaaa', 'CANCEL'), flow);
    layer.receive(res(487, 'z9hG4bKaaa', 'INVITE'), flow);
    layer.receive(res(200, 'z9hG4bKzzz', 'INVITE'), flow);
    expect(got).toEqual(['cancel 200', 'invite 487']);
    expect(strays.map((s) => s.status)).toEqual([200]);
  });

  it('a retransmitted request is absorbed by its server transaction; the TU sees it once', async () => {
    const { layer, requests, sent } = setup();
    layer.receive(req('BYE', 'z9hG4bKb1'), flow);
    layer.receive(req('BYE', 'z9hG4bKb1'), flow);
    expect(requests).toHaveLength(1);
    requests[0]!.tx!.respond(createResponse(200, 'OK', [['CSeq', '1 BYE']]));
    layer.receive(req('BYE', 'z9hG4bKb1'), flow);
    await Promise.resolve();
    expect(sent.map((s) => (s.msg as SipResponse).status)).toEqual([200, 200]);
    expect(requests).toHaveLength(1);
  });

  it('the same branch from another sent-by is another transaction', () => {
    const { layer, requests } = setup();
    layer.receive(req('OPTIONS', 'z9hG4bKo1', '198.51.100.7:5070'), flow);
    layer.receive(req('OPTIONS', 'z9hG4bKo1', '198.51.100.8:5070'), flow);
    expect(requests).toHaveLength(2);
  });

  it('the ACK of a non-2xx is absorbed by the INVITE server transaction; the ACK of a 2xx (new branch) goes to the TU without a transaction', () => {
    const { layer, requests } = setup();
    layer.receive(req('INVITE', 'z9hG4bKi1'), flow);
    const tx = requests[0]!.tx!;
    tx.respond(createResponse(486, 'Busy Here', [['CSeq', '1 INVITE']]));
    layer.receive(req('ACK', 'z9hG4bKi1'), flow);
    expect(requests).toHaveLength(1);
    expect(tx.state).toBe('confirmed');
    layer.receive(req('ACK', 'z9hG4bKnew'), flow);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.tx).toBeUndefined();
  });

  it('transactions leave the layer when they terminate', () => {
    const { layer, clock } = setup();
    layer.sendRequest(req('OPTIONS', 'z9hG4bKq'), trunk, {
      onResponse: () => {},
      onTimeout: () => {},
      onTransportError: () => {},
    });
    expect(layer.clientCount).toBe(1);
    layer.receive(res(200, 'z9hG4bKq', 'OPTIONS'), flow);
    clock.advance(1000); // Timer K = T4
    expect(layer.clientCount).toBe(0);
  });

  it('responses go back to the source address and port when the Via has rport (RFC 3581), else to the sent-by port', () => {
    const [withRport] = parseVia('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport');
    const [without] = parseVia('SIP/2.0/UDP 10.0.0.1:5080;branch=z9hG4bK1');
    expect(responseTarget(flow, withRport!)).toMatchObject({ host: '198.51.100.7', port: 5070 });
    expect(responseTarget(flow, without!)).toMatchObject({ host: '198.51.100.7', port: 5080 });
  });
});
