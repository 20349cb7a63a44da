import { Box, type DOMElement, measureElement, Text } from 'ink';
import { useEffect, useRef } from 'react';
import type { CertificateSummary } from '../controls.ts';
import { clock, formatReading, shortFingerprint } from '../format.ts';
import { stateStyle } from '../status-style.ts';
import type { DeviceView } from '../store/types.ts';
import { Ladder } from './Ladder.tsx';
import { NodeTag } from './NodeTag.tsx';

export interface DetailPaneProps {
  readonly device?: DeviceView;
  /** undefined while loading, null when the device presents no certificate. */
  readonly certificate?: CertificateSummary | null;
  readonly width: number;
  readonly height: number;
  /** Lines scrolled off the top (the full-screen view scrolls; the side pane does not). */
  readonly scroll?: number;
  /** Told the height of the whole content, so scrolling can stop at its end. */
  readonly onMeasure?: (lines: number) => void;
  /** Shown in the title line, e.g. "Esc back". */
  readonly hint?: string;
}

function CertificateLines({
  device,
  certificate,
}: {
  device: DeviceView;
  certificate?: CertificateSummary | null;
}) {
  if (device.external)
    return (
      <Text wrap="truncate" color="gray">
        {' '}
        not started by this dashboard: what the broker's audit says about it is below
      </Text>
    );
  if (certificate === undefined) return <Text color="gray"> loading…</Text>;
  if (certificate === null)
    return (
      <Text wrap="truncate" color="yellow">
        {' '}
        none: this device presents no client certificate
      </Text>
    );
  const statusColor = certificate.status === 'valid' ? 'green' : 'red';
  return (
    <>
      <Text wrap="truncate">
        {` CN ${certificate.commonName}  key ${certificate.keyType}  status `}
        <Text color={statusColor}>{certificate.status}</Text>
      </Text>
      <Text wrap="truncate">{` issuer ${certificate.issuer}`}</Text>
      <Text wrap="truncate">
        {` valid ${certificate.notBefore.slice(0, 10)} → ${certificate.notAfter.slice(0, 10)}  SHA256 ${shortFingerprint(certificate.fingerprint256)}`}
      </Text>
    </>
  );
}

export function DetailPane({
  device,
  certificate,
  width,
  height,
  scroll = 0,
  onMeasure,
  hint,
}: DetailPaneProps) {
  const inner = width - 2;
  const content = useRef<DOMElement>(null);
  useEffect(() => {
    if (onMeasure && content.current) onMeasure(measureElement(content.current).height);
  });
  if (!device) {
    return (
      <Box width={width} height={height} borderStyle="round" flexDirection="column">
        <Text color="gray">select a device to see its certificate and handshake</Text>
      </Box>
    );
  }
  const style = stateStyle(device.state, device.revoked);
  const attempt = device.attempt;
  return (
    <Box width={width} height={height} borderStyle="round" flexDirection="column" overflowY="hidden">
      {/* Natural height inside a clipping box: sections that do not fit are cut at the bottom, never squeezed;
          a negative top margin scrolls. The handshake comes first: where and why a device failed is the point. */}
      <Box ref={content} flexDirection="column" flexShrink={0} marginTop={-scroll}>
        <Text wrap="truncate">
          <Text bold>{device.id}</Text>
          {`  ${device.external ? 'external client' : device.rogue ? `rogue ${device.kind}` : device.kind}  `}
          <Text color={style.color}>{`${style.symbol} ${style.label}`}</Text>
          <NodeTag node={device.node} />
          {device.revoked ? <Text color="red"> · certificate revoked</Text> : null}
          {hint ? <Text color="gray">{`   ${hint}`}</Text> : null}
        </Text>
        <Text bold wrap="truncate">
          {`mTLS handshake${attempt ? ` (attempt ${attempt.attempt}${attempt.tlsVersion ? `, ${attempt.tlsVersion}` : ''})` : ''}`}
        </Text>
        <Ladder
          attempt={attempt}
          failedStep={device.failedStep}
          reason={device.reason}
          detail={device.detail}
          width={inner}
        />
        <Text bold>Certificate</Text>
        <CertificateLines device={device} certificate={certificate} />
        <Text bold wrap="truncate">
          {'Telemetry '}
          <Text color="gray">
            {device.lastReadingAt ? `#${device.messages} at ${clock(device.lastReadingAt)}` : 'none yet'}
          </Text>
        </Text>
        {device.lastReading ? (
          <Text wrap="truncate">{` ${formatReading(device.lastReading, 6)}`}</Text>
        ) : null}
        <Text bold>Messages (newest first; → from the device, ← to it)</Text>
        {device.traffic.length === 0 ? <Text color="gray"> none yet</Text> : null}
        {device.traffic
          .slice()
          .reverse()
          .map((message) => (
            <Text key={`${message.at}${message.direction}${message.topic}${message.text}`} wrap="truncate">
              <Text color="gray">{` ${clock(message.at)} `}</Text>
              {`${message.direction === 'out' ? '→' : '←'} ${message.topic}  `}
              <Text color="gray">{message.text}</Text>
            </Text>
          ))}
        <Text bold>Recent events</Text>
        {device.recent
          .slice()
          .reverse()
          .map((entry) => (
            <Text
              key={entry.seq}
              wrap="truncate"
              color={entry.level === 'info' ? undefined : entry.level === 'warn' ? 'yellow' : 'red'}
            >
              {` ${clock(entry.at)} ${entry.source === 'broker' ? 'broker: ' : ''}${entry.text}`}
            </Text>
          ))}
      </Box>
    </Box>
  );
}
