/**
 * Helpers for the host backend's side of an outbound call, matching the seed's
 * `outbound_call.py` flow: one room, one agent dispatch, then the bridge into that room.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError } from './errors.js';

const AGENT_TYPE_RE = /^[a-z0-9][a-z0-9_]{0,31}$/;

/**
 * `<agentType>-outbound-<last 4 digits>-<uuid>`, the seed's room naming. The agent type
 * must be lower-case letters, digits or `_` (it is recovered from the name by splitting
 * on `-`, so it cannot contain one).
 */
export function createOutboundRoomName(
  agentType: string,
  phoneNumber: string,
  uuid: string = randomUUID(),
): string {
  const type = agentType.toLowerCase();
  if (!AGENT_TYPE_RE.test(type)) {
    throw new ConfigError([
      `agentType must be 1–32 lower-case letters, digits or "_" (got ${JSON.stringify(agentType)})`,
    ]);
  }
  const digits = phoneNumber.replace(/\D/g, '');
  if (digits.length < 4)
    throw new ConfigError([`phone number ${JSON.stringify(phoneNumber)} has fewer than 4 digits`]);
  return `${type}-outbound-${digits.slice(-4)}-${uuid}`;
}

/** The agent type from a room name made by `createOutboundRoomName` (the part before the first `-`). */
export function agentTypeFromRoomName(roomName: string): string {
  const i = roomName.indexOf('-');
  return (i < 0 ? roomName : roomName.slice(0, i)).toLowerCase();
}
