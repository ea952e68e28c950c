package main

import (
	"crypto/md5"
	cryptorand "crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The run's one SSE-C key, and the files that hand it (and the server's credentials) to each tool.

// sseKey is the bench's SSE-C key in the forms S3 wants.
type sseKey struct {
	raw      []byte
	b64, md5 string
	alg      string
}

func newSSEKey() (sseKey, error) {
	raw := make([]byte, 32)
	if _, err := cryptorand.Read(raw); err != nil {
		return sseKey{}, err
	}
	return keyOf(raw), nil
}

// sseKeyFromFile reads the key file writeCredentials wrote (one base64 key).
func sseKeyFromFile(path string) (sseKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return sseKey{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != 32 {
		return sseKey{}, fmt.Errorf("%s does not hold one base64 key of 32 bytes", path)
	}
	return keyOf(raw), nil
}

func keyOf(raw []byte) sseKey {
	sum := md5.Sum(raw)
	return sseKey{
		raw: raw,
		b64: base64.StdEncoding.EncodeToString(raw),
		md5: base64.StdEncoding.EncodeToString(sum[:]),
		alg: "AES256",
	}
}

func (k sseKey) headers() (alg, key, md *string) {
	return aws.String(k.alg), aws.String(k.b64), aws.String(k.md5)
}

// writeCredentials writes the key file (one base64 key, 0600: the format both ssecfs and s3fs read), s3fs's
// password file and rclone's configuration (which carries the key: 0600 too, removed with the work directory).
func (b *bench) writeCredentials(key sseKey) error {
	b.keyFile = filepath.Join(b.dir, "key")
	if err := os.WriteFile(b.keyFile, []byte(base64.StdEncoding.EncodeToString(key.raw)+"\n"), 0o600); err != nil {
		return err
	}
	b.passwdFile = filepath.Join(b.dir, "passwd-s3fs")
	if err := os.WriteFile(b.passwdFile, []byte(b.srv.AccessKey+":"+b.srv.SecretKey+"\n"), 0o600); err != nil {
		return err
	}
	remote := func(name, endpoint string) string {
		return fmt.Sprintf(`[%s]
type = s3
provider = Other
env_auth = false
access_key_id = %s
secret_access_key = %s
region = %s
endpoint = %s
force_path_style = true
sse_customer_algorithm = AES256
sse_customer_key_base64 = %s
sse_customer_key_md5 = %s
chunk_size = %dMi
upload_concurrency = %d

`, name, b.srv.AccessKey, b.srv.SecretKey, b.srv.Region, endpoint, key.b64, key.md5, b.cfg.partSize>>20, b.cfg.concurrency)
	}
	b.rcloneConf = filepath.Join(b.dir, "rclone.conf")
	conf := remote("bench", b.srv.Endpoint) + remote("benchproxy", b.proxy.Endpoint)
	return os.WriteFile(b.rcloneConf, []byte(conf), 0o600)
}
