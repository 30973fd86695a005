/// pgbak's own version, recorded in every manifest.
public let pgbakVersion = "0.3.0"
