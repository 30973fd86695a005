import Foundation
import Testing

extension ClusterTests {
    /// Backups of a cluster with a tablespace. Each member sees its own directory at the tablespace path (a private
    /// mount namespace per Patroni, see scripts/cluster/lib.sh), as on real hosts; the test never lets a restore
    /// write where the leader's tablespace lives.
    @Suite struct TablespaceIntegrationTests {
        let lab = TestConfig(dir: TestCluster.lab + "/pgbak")

        init() throws {
            try TestData.prepare()
        }

        /// On the lab's repository (a directory), and on an encrypted bucket, whose tablespace archive is uploaded
        /// (sealed) while pg_basebackup writes it and whose members re-seed reading the bucket.
        @Test(arguments: ["directory", "encrypted bucket"])
        func restoreTestRemapsAndReplicaReseedPutsTheTablespaceBack(repository: String) throws {
            var file = lab.file
            var ids: () throws -> [String] = { try lab.backupIDs() }
            var stored: (String) throws -> Data? = { path in
                FileManager.default.contents(atPath: "\(lab.repository)/backups/\(path)")
            }
            let member = TestCluster.lab + "/pgbak/member.yml"
            defer { _ = try? Shell.must("cp -p '\(TestCluster.lab)/pgbak/pgbak.yml' '\(member)'") }
            if repository == "encrypted bucket" {
                try #require(TestStore.enabled, "the S3 store must run (scripts/s3/start.sh)")
                let (s3, client) = try TestStore.config("ts-s3")
                typealias Encryption = EncryptionIntegrationTests
                try Encryption.useKey(try Encryption.newKey(s3.dir), in: s3.file)
                try Shell.must("cp -p '\(s3.file)' '\(member)'")
                file = s3.file
                ids = { try S3TestConfig.backupIDs(client) }
                stored = { path in try client.get("backups/\(path)", range: 0..<8) }
            }
            let location = TestCluster.lab + "/tblspc/ts1"
            // The location must exist on every member before CREATE TABLESPACE is replayed there.
            try Shell.must(
                "for d in '\(TestCluster.lab)'/ts/node*; do install -d -o postgres -g postgres -m 0700 \"$d/ts1\"; done"
            )
            try TestCluster.psql("drop table if exists ts_data", database: "app2")
            try TestCluster.psql("drop tablespace if exists ts_pgbak")
            try TestCluster.psql("create tablespace ts_pgbak location '\(location)'")
            defer {
                _ = try? TestCluster.psql("drop table if exists ts_data", database: "app2")
                _ = try? TestCluster.psql("drop tablespace if exists ts_pgbak")
            }
            try TestCluster.psql(
                "create table ts_data tablespace ts_pgbak as select g, md5(g::text) v from generate_series(1, 30000) g",
                database: "app2")
            let leader = try TestCluster.leader()
            let leaderDir = "\(TestCluster.lab)/ts/node\((leader.port ?? 5432) - 5431)/ts1"

            let taken = try TestCluster.pgbak(["now", "--config", file])
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try ids().last)
            let oid = try TestCluster.psql("select oid from pg_tablespace where spcname = 'ts_pgbak'")
            let archive = try #require(try stored("\(id)/physical/\(oid).tar.zst"), "the tablespace's archive")
            #expect(archive.starts(with: Data("PGBAKENC".utf8)) == (repository == "encrypted bucket"))

            let verified = try TestCluster.pgbak(["verify", id, "--restore-test", "--config", file])
            #expect(verified.status == 0, "\(verified)")
            // pgbak runs outside the members' mount namespaces: there the tablespace path is an empty directory, and
            // a restore test that wrote at the recorded path instead of its scratch area would fill it.
            #expect(
                try Shell.must("find '\(TestCluster.lab)/tblspc' -mindepth 1").isEmpty,
                "the restore test wrote at the tablespace's recorded path")

            let replica = try #require(
                try TestCluster.members().first { $0.role != "leader" && $0.state == "streaming" })
            let reseeded = try TestCluster.pgbak(["restore", "--node", replica.name, "--config", file])
            #expect(reseeded.status == 0, "\(reseeded)")
            let sql = "select count(*) || ':' || md5(string_agg(v, ',' order by g)) from ts_data"
            let want = try TestCluster.psql(sql, database: "app2")
            var got = ""
            for _ in 0..<120 where got != want {
                got = (try? TestCluster.psql(sql, database: "app2", port: replica.port)) ?? ""
                usleep(250_000)
            }
            #expect(got == want)
            let replicaDir = "\(TestCluster.lab)/ts/node\((replica.port ?? 5432) - 5431)/ts1"
            #expect(
                try !Shell.must("find '\(replicaDir)' -type f").isEmpty, "the tablespace went to the replica's own path"
            )
            #expect(try !Shell.must("find '\(leaderDir)' -type f").isEmpty, "the leader keeps its tablespace")
        }
    }
}
