/**
 * The room names hosts and agents share: `<agentType>-<direction>-<last 4 digits>-<uuid>`.
 * Pure string work, so agent code can read a room name without the host's modules.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError } from './errors.js';

const AGENT_TYPE_RE = /^[a-z0-9][a-z0-9_]{0,31}$/;

/**
 * `<agentType>-<direction>-<last 4 digits>-<uuid>`: the room naming hosts and agents
 * share. The agent type must be lower-case letters, digits or `_` (it is recovered from
 * the name by splitting on `-`, so it cannot contain one). Numbers with fewer than 4 digits: `anon` when
 * `allowShort` (a withheld caller ID), else `ConfigError`.
 */
export function roomNameFor(
  agentType: string,
  direction: 'outbound' | 'inbound',
  phoneNumber: string,
  uuid: string = randomUUID(),
  allowShort = false,
): string {
  const type = agentType.toLowerCase();
  if (!AGENT_TYPE_RE.test(type)) {
    throw new ConfigError([
      `agentType must be 1–32 lower-case letters, digits or "_" (got ${JSON.stringify(agentType)})`,
    ]);
  }
  const digits = phoneNumber.replace(/\D/g, '');
  if (digits.length < 4 && !allowShort)
    throw new ConfigError([`phone number ${JSON.stringify(phoneNumber)} has fewer than 4 digits`]);
  return `${type}-${direction}-${digits.length >= 4 ? digits.slice(-4) : 'anon'}-${uuid}`;
}

/**
 * A room name for an outbound call: `<agentType>-outbound-<last 4 digits>-<uuid>`. The
 * agent type must be 1–32 lower-case letters, digits or `_` (an agent recovers it with
 * {@link agentTypeFromRoomName}); the number must have at least 4 digits.
 *
 * @throws ConfigError when the agent type or the number does not fit.
 */
export function createOutboundRoomName(
  agentType: string,
  phoneNumber: string,
  uuid: string = randomUUID(),
): string {
  return roomNameFor(agentType, 'outbound', phoneNumber, uuid);
}

/** The agent type from a room name made by `createOutboundRoomName` (the part before the first `-`). */
export function agentTypeFromRoomName(roomName: string): string {
  const i = roomName.indexOf('-');
  return (i < 0 ? roomName : roomName.slice(0, i)).toLowerCase();
}
