import Foundation

/// Opens the repository the configuration names: the bucket when `repository.s3` is set, else the directory.
public enum Repositories {
    public static func open(_ config: PgbakConfig) throws -> any BackupRepository {
        let key = try config.encryptionKeyFile.map { try RepositoryKey(file: $0) }
        guard let s3 = config.repositoryS3 else {
            return PosixRepository(root: config.repositoryPath, owner: config.repositoryOwner, encryptionKey: key)
        }
        return S3Repository(
            client: try S3Client(settings: s3), localRoot: config.repositoryPath, owner: config.repositoryOwner,
            scope: config.scope, encryptionKey: key)
    }
}
