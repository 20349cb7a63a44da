/**
 * `y` on a device: the mosquitto_pub / mosquitto_sub command lines that connect to this broker as that device —
 * its certificate chain, key, the CA bundle and the broker's real port — ready to paste into a shell. Pure.
 */
export interface ConnectionInfo {
  host: string;
  port: number;
  /** The MQTT client id the broker requires: the certificate's CN. */
  clientId: string;
  /** CA file that verifies the broker. */
  ca: string;
  /** Certificate chain and key the device presents; absent for a device without a certificate. */
  cert?: string;
  key?: string;
}

/** Quotes for a POSIX shell when needed. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

export function mosquittoCommands(
  info: ConnectionInfo,
  deviceId: string,
): { comment: string; command: string }[] {
  const tls = [`--cafile ${shellQuote(info.ca)}`];
  if (info.cert && info.key) tls.push(`--cert ${shellQuote(info.cert)}`, `--key ${shellQuote(info.key)}`);
  const base = `-h ${info.host} -p ${info.port} -i ${shellQuote(info.clientId)} ${tls.join(' ')}`;
  const telemetry = `devices/${deviceId}/telemetry`;
  const commands = `devices/${deviceId}/commands/#`;
  return [
    {
      comment: `publish a reading as ${info.clientId}`,
      command: `mosquitto_pub ${base} -t ${shellQuote(telemetry)} -m '{"temperature":21.5}'`,
    },
    {
      comment: `receive the commands sent to ${deviceId}`,
      command: `mosquitto_sub ${base} -t ${shellQuote(commands)} -v`,
    },
  ];
}
