/**
 * What the bridge makes of the far end's answer: the attributes it adds to the phone's
 * participant (`sip.callIDFull`, `sip.callTag`, the leg's own, and the far end's headers the
 * host asked for) and the `answered` event's payload.
 */
import type { LegAnswer } from './bridge-leg.js';
import type { BridgeAnswered } from './bridge-events.js';
import { headerAttributes, type RunBridgeOptions } from './bridge-options.js';

/** The participant attributes set once the call is answered. */
export function answerAttributes(
  answer: LegAnswer,
  direction: 'inbound' | 'outbound',
  includeHeaders: RunBridgeOptions['includeHeaders'],
): Record<string, string> {
  return {
    'sip.callIDFull': answer.sipCallId,
    'sip.callTag': answer.remoteTag,
    ...answer.attributes,
    ...(direction === 'outbound' ? headerAttributes(answer.allHeaders, includeHeaders) : {}),
  };
}

/** The `answered` event of a call (`setupMs`: the answer's time since `runBridge()`). */
export function answeredInfo(callId: string, answer: LegAnswer, setupMs: number): BridgeAnswered {
  const neg = answer.negotiated;
  return {
    callId,
    sipCallId: answer.sipCallId,
    codec: neg?.codec ?? answer.remote?.codec ?? 'L16',
    remoteAddress: neg?.remoteAddress ?? answer.remote?.address ?? '',
    remotePort: neg?.remotePort ?? answer.remote?.port ?? 0,
    setupMs,
    remoteHeaders: answer.remoteHeaders,
  };
}
