'use strict';
/* s3rver.js -- s3rver (npm) with CompleteMultipartUpload done as S3 does it; started by
 * scripts/s3rver.sh with s3rver's own command line (NODE_PATH names its node_modules).
 *
 * s3rver 3.7.1 completes an upload by piping every part through Node streams into a new
 * file while hashing all of it again (a second write of every byte, which S3 does not make
 * its client wait for), answers 500 for an upload that is gone, and checks neither the part
 * list nor the ETags. Here, on s3rver's own files:
 *   - the part list is checked as S3 checks it: NoSuchUpload (404) when the upload is gone,
 *     InvalidPartOrder when the numbers do not ascend, InvalidPart when a part is missing or
 *     its ETag is not the one UploadPart answered, EntityTooSmall when a part but the last is
 *     under 5 MiB;
 *   - the object keeps the parts where UploadPart wrote them: the upload's directory
 *     (<bucket>/._S3rver_uploads/<id>/) is renamed to <key>._S3rver_parts/, parts not named
 *     in the list are dropped, and manifest.json there lists the parts in order with their
 *     sizes; <key>._S3rver_object stays, empty, so that listing and HEAD find the object;
 *   - its ETag is S3's multipart ETag: md5 of the parts' binary md5s, "-", the part count;
 *   - GET (ranges included) reads the parts in order; HEAD and listing give the parts' total
 *     size; DELETE, PutObject and CopyObject over such an object remove its parts (a copy
 *     copies them).
 * Everything else is s3rver's. */
const crypto = require('crypto');
const fs = require('fs');
const fsp = fs.promises;
const path = require('path');
const { Readable } = require('stream');

const FilesystemStore = require('s3rver/lib/stores/filesystem');
const S3Error = require('s3rver/lib/models/error');
const S3Object = require('s3rver/lib/models/object');

const MIN_PART = 5 * 1024 * 1024; /* S3's minimum size of every part but the last */
const MANIFEST = 'manifest.json';
const store = FilesystemStore.prototype;
const orig = {
  getMetadata: store.getMetadata,
  getObject: store.getObject,
  putObject: store.putObject,
  copyObject: store.copyObject,
  deleteObject: store.deleteObject,
};

function noSuchUpload(uploadId) {
  return new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may ' +
    'be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
}

/* [{number, md5, size}] of the listed parts, checked as S3 checks them. */
async function checkParts(uploadDir, parts) {
  const out = [];
  if (!parts.length)
    throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not ' +
      'validate against our published schema.');
  for (let i = 0; i < parts.length; i++) {
    const { number, etag } = parts[i];
    if (i > 0 && number <= parts[i - 1].number)
      throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. ' +
        'The parts list must be specified in order by part number.');
    const file = path.join(uploadDir, String(number));
    let md5 = null, size = 0;
    try {
      md5 = (await fsp.readFile(file + '.md5')).toString().trim();
      size = (await fsp.stat(file)).size;
    } catch (err) {
      md5 = null;
    }
    if (md5 === null || md5 !== etag)
      throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found. ' +
        'The part may not have been uploaded, or the specified entity tag may not match the ' +
        "part's entity tag.", { PartNumber: number, ETag: etag });
    out.push({ number, md5, size });
  }
  for (let i = 0; i + 1 < out.length; i++)
    if (out[i].size < MIN_PART)
      throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum ' +
        'allowed object size.', { PartNumber: out[i].number, MinSizeAllowed: MIN_PART });
  return out;
}

/* The object's parts ({dir, parts: [{number, size}]}), or null for a plain object. */
async function manifestOf(st, bucket, key) {
  const dir = st.getResourcePath(bucket, key, 'parts');
  try {
    return { dir, parts: JSON.parse(await fsp.readFile(path.join(dir, MANIFEST))) };
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  }
}

/* Bytes start..end (inclusive) of the parts, in order. */
async function* readRange(m, start, end) {
  let off = 0;
  for (const p of m.parts) {
    const a = Math.max(start, off), b = Math.min(end, off + p.size - 1);
    if (a <= b)
      yield* fs.createReadStream(path.join(m.dir, String(p.number)), { start: a - off, end: b - off });
    off += p.size;
    if (off > end) break;
  }
}

store.putObjectMultipart = async function (bucket, uploadId, parts) {
  const uploadDir = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  let key, metadata;
  try {
    key = (await fsp.readFile(path.join(uploadDir, 'key'))).toString();
    metadata = JSON.parse((await fsp.readFile(path.join(uploadDir, 'metadata'))).toString());
  } catch (err) {
    throw noSuchUpload(uploadId);
  }
  const list = await checkParts(uploadDir, parts);
  const md5 = crypto.createHash('md5')
    .update(Buffer.concat(list.map(p => Buffer.from(p.md5, 'hex'))))
    .digest('hex') + '-' + list.length;
  const objectPath = this.getResourcePath(bucket, key, 'object');
  const partsDir = this.getResourcePath(bucket, key, 'parts');
  const keep = new Set(list.map(p => String(p.number)));
  await fsp.mkdir(path.dirname(objectPath), { recursive: true });
  await fsp.writeFile(path.join(uploadDir, MANIFEST),
    JSON.stringify(list.map(p => ({ number: p.number, size: p.size }))));
  for (const f of await fsp.readdir(uploadDir))
    if (f !== MANIFEST && !keep.has(f)) await fsp.rm(path.join(uploadDir, f), { force: true });
  await fsp.rm(partsDir, { recursive: true, force: true }); /* an earlier multipart object */
  try {
    await fsp.rename(uploadDir, partsDir);
  } catch (err) {
    throw noSuchUpload(uploadId); /* completed or aborted meanwhile */
  }
  await fsp.writeFile(objectPath, '');
  await this.putMetadata(bucket, key, metadata, md5);
  return { size: list.reduce((n, p) => n + p.size, 0), md5 };
};

store.getMetadata = async function (bucket, key) {
  const md = await orig.getMetadata.call(this, bucket, key);
  const m = await manifestOf(this, bucket, key);
  if (m) md['content-length'] = m.parts.reduce((n, p) => n + p.size, 0);
  return md;
};

store.getObject = async function (bucket, key, options) {
  let m, metadata;
  try {
    m = await manifestOf(this, bucket, key);
    if (!m) return orig.getObject.call(this, bucket, key, options);
    metadata = await this.getMetadata(bucket, key);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  /* as s3rver's getObject: the range clipped to the object, unsatisfiable = no content */
  const lastByte = Math.max(0, Number(metadata['content-length']) - 1);
  const ranged = options && (options.start !== undefined || options.end);
  const range = {
    start: (options && options.start) || 0,
    end: Math.min((options && options.end) || Infinity, lastByte),
  };
  const ok = !(range.start < 0 || Math.min(range.end, lastByte) < range.start);
  const object = new S3Object(bucket, key, ok ? Readable.from(readRange(m, range.start, range.end),
    { objectMode: false }) : null, metadata);
  if (ranged) object.range = range;
  return object;
};

store.putObject = async function (object) {
  await fsp.rm(this.getResourcePath(object.bucket, object.key, 'parts'),
    { recursive: true, force: true });
  return orig.putObject.call(this, object);
};

store.deleteObject = async function (bucket, key) {
  await fsp.rm(this.getResourcePath(bucket, key, 'parts'), { recursive: true, force: true });
  return orig.deleteObject.call(this, bucket, key);
};

store.copyObject = async function (srcBucket, srcKey, destBucket, destKey, replacement) {
  const src = this.getResourcePath(srcBucket, srcKey, 'parts');
  const dst = this.getResourcePath(destBucket, destKey, 'parts');
  if (src !== dst) {
    await fsp.rm(dst, { recursive: true, force: true });
    if (await manifestOf(this, srcBucket, srcKey)) {
      await fsp.mkdir(path.dirname(dst), { recursive: true });
      await fsp.cp(src, dst, { recursive: true });
    }
  }
  return orig.copyObject.call(this, srcBucket, srcKey, destBucket, destKey, replacement);
};

require('s3rver/bin/s3rver.js');
