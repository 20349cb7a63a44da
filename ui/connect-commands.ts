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

/**
 * One command per entry, as shell lines joined by backslash-newline: each argument group on its own short line, so
 * the command can be copied off the terminal as it is (no line is wrapped or cut by the screen).
 */
export function mosquittoCommands(
  info: ConnectionInfo,
  deviceId: string,
): { comment: string; lines: string[] }[] {
  const tls = [`  --cafile ${shellQuote(info.ca)}`];
  if (info.cert && info.key) tls.push(`  --cert ${shellQuote(info.cert)}`, `  --key ${shellQuote(info.key)}`);
  const where = `-h ${info.host} -p ${info.port} -i ${shellQuote(info.clientId)}`;
  const continued = (lines: string[]) =>
    lines.map((line, index) => (index < lines.length - 1 ? `${line} \\` : line));
  return [
    {
      comment: `publish a reading as ${info.clientId}`,
      lines: continued([
        `mosquitto_pub ${where}`,
        ...tls,
        `  -t ${shellQuote(`devices/${deviceId}/telemetry`)} -m '{"temperature":21.5}'`,
      ]),
    },
    {
      comment: `receive the commands sent to ${deviceId}`,
      lines: continued([
        `mosquitto_sub ${where}`,
        ...tls,
        `  -t ${shellQuote(`devices/${deviceId}/commands/#`)} -v`,
      ]),
    },
  ];
}
