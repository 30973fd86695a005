import Testing

/// Every test that uses the real cluster, one at a time (they share it, and some fail over its leader).
@Suite(.serialized, .enabled(if: TestCluster.enabled))
struct ClusterTests {}
