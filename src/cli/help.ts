/** What `pixstore help` prints. */
export const help = `Usage: pixstore <command> [options]

Commands:
  import <folder>       Save every image file in <folder> (not its sub-folders); prints "file<TAB>id" lines and
                        every entry skipped with the reason; files imported before are found, not saved again
  variants              Make the variants --widths (and --formats) name for every image that lacks them, keeping
                        its version (resumable: run it again)
  verify                Decrypt every stored image and its variants; lists any that are missing or fail authentication
  gc                    Remove encrypted files no metadata row points to (left by a crash)
  rotate-master-key     Rewrap every image key under a new master key, safely while the app runs
                        (resumable: run it again)
  rotate-proof-secret   Start signing proofs with a new secret; the previous ones still verify
                        for as long as proofs they signed can be valid
  stats                 Counts, bytes, oldest and newest image
  instances             The backend processes using the store, and the master keys each holds
  migrate               Copy every image of --from <data dir> to PostgreSQL and S3, without decrypting
  import-3x             Copy every image of a pixstore 3.x app (--database, --images) into the store, byte for
                        byte, each checked after copying; the 3.x files are only read; resumable (run it again)
  help                  Show this help

Options:
  --data-dir <dir>      Data directory of the embedded store (default: PIXSTORE_DATA_DIR or ./pixstore-data)
  --pg-url <url>        Work on PostgreSQL + S3 instead (with --s3-bucket and the --pg-*/--s3-* options
                        below); the keys then come from PIXSTORE_MASTER_KEY and PIXSTORE_PROOF_SECRET
  --wait <seconds>      rotate-master-key: how long to wait for every running process to hold the
                        new key (default 15)
  --dir <prefix>        import: prefix the generated ids ("<prefix>:<random>")
  --older-than <min>    gc: only remove files older than this many minutes (default 15)
  --dry-run             gc: report without removing
  --from <dir>          migrate: the embedded data directory to copy from
  --to <postgres-url>   migrate: the PostgreSQL database to copy to (--pg-schema, --pg-table-prefix)
  --s3-bucket <name>    migrate: the bucket to copy to (--s3-endpoint, --s3-region, --s3-prefix,
                        --s3-path-style; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
  --database <file>     import-3x: the 3.x database file (default: ./.pixstore.sqlite, else ./.pixstore-test.sqlite)
  --images <folder>     import-3x: the 3.x images folder (default: ./pixstore-images, else ./pixstore-test-images)
  --image-formats <list> import-3x: the app's imageFormats option, comma-separated, if it sets one
  --allow-failed        import-3x: let the app start even though some 3.x images could not be copied
  --widths <list>       variants: widths in pixels, comma-separated (as the backend option variants.widths)
  --formats <list>      variants: webp, avif and/or original, comma-separated (default webp)
  --json                Print the result as JSON
  -h, --help            Show this help
  -v, --version         Print the version

Exit codes: 0 done, 1 problems found (verify failures, files not imported), 2 bad usage or set-up.
The master keys and proof secret come from PIXSTORE_MASTER_KEY and PIXSTORE_PROOF_SECRET when set,
else from the data directory, as for the library.`
