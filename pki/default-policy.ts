/**
 * The policy `pki init` writes next to the PKI. The broker owns the format (broker/policy-schema.ts);
 * this is only the starting point a user edits.
 */
export const DEFAULT_POLICY_YAML = `# certfleet policy: which certificate common names (CN) may publish and subscribe to what.
# Anything not granted here is denied. {cn} stands for the connecting identity's CN.
version: 1

# The MQTT client id must equal the certificate CN, so no device can take over another's session.
# Set to false to let clients choose their id (not recommended).
requireClientIdMatchesCn: true

identities:
  - cn: ["sensor-*", "tracker-*", "meter-*", "door-*"]
    publish:
      - "devices/{cn}/telemetry"
      - "devices/{cn}/status"
      - "devices/{cn}/replies"
      - "enroll/{cn}/request"          # certificate renewal over MQTT (rotation)
    subscribe:
      - "devices/{cn}/commands/#"
      - "enroll/{cn}/response/+"

  # Claim certificates (certfleet pki issue --claim NAME) may only enroll: obtain a device identity, nothing else.
  - cn: "claim-*"
    publish:
      - "enroll/{cn}/request"
    subscribe:
      - "enroll/{cn}/response/+"

  - cn: "dashboard"
    publish:
      - "devices/+/commands/#"
    subscribe:
      - "devices/+/#"
      - "$SYS/certfleet/#"
`;
