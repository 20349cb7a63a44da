/**
 * What a client whose certificate did not verify sees (non-strict mode): the TLS handshake completes, the
 * broker waits for the MQTT CONNECT — parsed here, never by aedes — answers CONNACK "not authorized" (3.1.1 return
 * code 5, or v5 reason code 0x87) and closes. MQTT clients treat that as final instead of reconnecting blindly.
 * Anything else than a CONNECT, a packet over the size limit, or silence past the timeout just closes.
 */
import mqttPacket from 'mqtt-packet';
import type { TLSSocket } from 'node:tls';
import { FrameScanner } from './packet-size-guard.ts';

export interface RefusedConnectOutcome {
  /** The client id from the CONNECT, if one arrived. */
  clientId?: string;
  /** What happened at the MQTT level, for the audit's detail. */
  mqtt: 'connack-5-sent' | 'no-connect' | 'timeout' | 'not-a-connect' | 'malformed' | 'too-large';
}

export function answerRefusedConnect(
  socket: TLSSocket,
  limits: { connectTimeoutMs: number; maxPacketSize: number },
): Promise<RefusedConnectOutcome> {
  return new Promise((resolve) => {
    const parser = mqttPacket.parser();
    const scanner = new FrameScanner(limits.maxPacketSize);
    let settled = false;
    const finish = (outcome: RefusedConnectOutcome, close: 'end' | 'destroy') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (close === 'end') socket.end();
      else socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ mqtt: 'timeout' }, 'destroy'), limits.connectTimeoutMs);
    const onData = (chunk: Buffer) => {
      if (scanner.feed(chunk)) return finish({ mqtt: 'too-large' }, 'destroy');
      parser.parse(chunk);
    };
    parser.on('packet', (packet) => {
      if (packet.cmd !== 'connect') return finish({ mqtt: 'not-a-connect' }, 'destroy');
      const v5 = packet.protocolVersion === 5;
      const connack = mqttPacket.generate(
        v5
          ? { cmd: 'connack', sessionPresent: false, reasonCode: 0x87 }
          : { cmd: 'connack', sessionPresent: false, returnCode: 5 },
        { protocolVersion: v5 ? 5 : 4 },
      );
      socket.write(connack);
      finish({ clientId: packet.clientId, mqtt: 'connack-5-sent' }, 'end');
    });
    parser.on('error', () => finish({ mqtt: 'malformed' }, 'destroy'));
    socket.on('data', onData);
    socket.on('error', () => finish({ mqtt: 'no-connect' }, 'destroy'));
    socket.on('close', () => finish({ mqtt: 'no-connect' }, 'destroy'));
  });
}
