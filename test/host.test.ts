import { describe, expect, it } from 'vitest';
import { agentTypeFromRoomName, createOutboundRoomName } from '../src/room-names.js';
import { ConfigError } from '../src/errors.js';

describe('room naming (the seed outbound_call.py flow)', () => {
  it('builds <agentType>-outbound-<last 4>-<uuid> and recovers the agent type', () => {
    const name = createOutboundRoomName('Sales', '+91 98765 43210', '0b5e7c1e-1111-4222-8333-944445555666');
    expect(name).toBe('sales-outbound-3210-0b5e7c1e-1111-4222-8333-944445555666');
    expect(agentTypeFromRoomName(name)).toBe('sales');
  });

  it('uses a fresh UUID each time', () => {
    const a = createOutboundRoomName('support', '+919876543210');
    const b = createOutboundRoomName('support', '+919876543210');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^support-outbound-3210-[0-9a-f-]{36}$/);
  });

  it('refuses an agent type that would break the name', () => {
    expect(() => createOutboundRoomName('sales-team', '+919876543210')).toThrow(ConfigError);
    expect(() => createOutboundRoomName('', '+919876543210')).toThrow(ConfigError);
    expect(() => createOutboundRoomName('a', '12')).toThrow(ConfigError);
  });
});
