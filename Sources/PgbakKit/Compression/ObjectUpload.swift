import Foundation

/// A file written into an object store as it is produced (see `S3Upload`).
public protocol ObjectUpload: AnyObject {
    /// Bytes the store has acknowledged so far, from the start of the file.
    var confirmedBytes: Int64 { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Sends what is left and makes the object whole; it exists from here on.
    func finish() throws
    /// Gives the upload up; nothing of it becomes visible.
    func abort()
}
