// Command image writes an OCI image of counter serve, without a container
// daemon: one layer holding a static counter binary, Debian's CA
// certificates and time zones, a passwd entry for the user counter (uid
// 65532) and its data directory /data, declared a volume. The output is an
// OCI image layout directory that skopeo, podman, umoci and Docker (25 and
// later: docker load of its tar) read. Entries, times and compression are
// fixed, so the same inputs give the same digest.
//
//	go run ./deploy/image -binary counter -out build/image
//
// deploy/image/build.sh builds the binary and calls it.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// The image's user and group: a fixed id, as distroless images use, so
// that a volume can be chowned before the first run.
const (
	uid      = 65532
	userName = "counter"
)

func main() {
	binary := flag.String("binary", "", "the static counter binary (CGO_ENABLED=0)")
	out := flag.String("out", "", "the OCI image layout directory to write (replaced)")
	tag := flag.String("tag", "latest", "the image's name in the layout's index")
	arch := flag.String("arch", runtime.GOARCH, "the binary's architecture")
	certs := flag.String("certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle (Debian's ca-certificates)")
	zoneinfo := flag.String("zoneinfo", "/usr/share/zoneinfo", "the time zone files (Debian's tzdata)")
	flag.Parse()
	if *binary == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: image -binary FILE -out DIR [-tag latest] [-arch amd64]")
		os.Exit(2)
	}
	size, digest, err := build(*binary, *out, *tag, *arch, *certs, *zoneinfo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s:%s %s, %d bytes compressed\n", *out, *tag, digest, size)
}

// epoch is every file's time, and the image's.
var epoch = time.Unix(0, 0).UTC()

// build writes the layout and returns the compressed size (layer, config
// and manifest) and the manifest's digest.
func build(binary, out, tag, arch, certs, zoneinfo string) (int64, string, error) {
	layer, diffID, err := rootfs(binary, certs, zoneinfo)
	if err != nil {
		return 0, "", err
	}
	if err := os.RemoveAll(out); err != nil {
		return 0, "", err
	}
	if err := os.MkdirAll(filepath.Join(out, "blobs", "sha256"), 0o755); err != nil { //nolint:gosec // an image layout is read by other tools and users
		return 0, "", err
	}
	layerDesc, err := writeBlob(out, "application/vnd.oci.image.layer.v1.tar+gzip", layer)
	if err != nil {
		return 0, "", err
	}
	config := map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": arch,
		"os":           "linux",
		"config": map[string]any{
			"User":         fmt.Sprintf("%d:%d", uid, uid),
			"Entrypoint":   []string{"/usr/local/bin/counter"},
			"Cmd":          []string{"serve"},
			"Env":          []string{"PATH=/usr/local/bin", "COUNTER_STORE=bolt", "COUNTER_DATA=/data/counter.db", "PORT=8080", "TZ=UTC"},
			"WorkingDir":   "/data",
			"ExposedPorts": map[string]any{"8080/tcp": struct{}{}},
			"Volumes":      map[string]any{"/data": struct{}{}},
			"StopSignal":   "SIGTERM",
			"Labels": map[string]string{
				"org.opencontainers.image.source":      "https://github.com/resumecounter/counter",
				"org.opencontainers.image.title":       "counter",
				"org.opencontainers.image.description": "counter serve: visit counters and badges",
			},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]string{{"created": epoch.Format(time.RFC3339), "created_by": "deploy/image"}},
	}
	configDesc, err := writeJSONBlob(out, "application/vnd.oci.image.config.v1+json", config)
	if err != nil {
		return 0, "", err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        configDesc,
		"layers":        []descriptor{layerDesc},
	}
	manifestDesc, err := writeJSONBlob(out, "application/vnd.oci.image.manifest.v1+json", manifest)
	if err != nil {
		return 0, "", err
	}
	manifestDesc.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag}
	manifestDesc.Platform = &platform{Architecture: arch, OS: "linux"}
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{manifestDesc},
	}
	if err := writeJSON(filepath.Join(out, "index.json"), index); err != nil {
		return 0, "", err
	}
	if err := writeJSON(filepath.Join(out, "oci-layout"), map[string]string{"imageLayoutVersion": "1.0.0"}); err != nil {
		return 0, "", err
	}
	return layerDesc.Size + configDesc.Size + manifestDesc.Size, manifestDesc.Digest, nil
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

func writeBlob(out, mediaType string, b []byte) (descriptor, error) {
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(out, "blobs", "sha256", hexSum), b, 0o644); err != nil { //nolint:gosec // blobs are public parts of the image
		return descriptor{}, err
	}
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hexSum, Size: int64(len(b))}, nil
}

func writeJSONBlob(out, mediaType string, v any) (descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return writeBlob(out, mediaType, b)
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644) //nolint:gosec // index.json and oci-layout are public parts of the image
}

// entry is one file of the layer.
type entry struct {
	hdr  tar.Header
	body []byte
}

// rootfs returns the gzipped layer and the digest of its tar (its diff id).
func rootfs(binary, certs, zoneinfo string) ([]byte, string, error) {
	var entries []entry
	dir := func(name string, mode int64, owner int) {
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner}})
	}
	file := func(name string, mode int64, body []byte) {
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body})
	}
	for _, d := range []string{"etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/local", "usr/local/bin", "usr/share"} {
		dir(d, 0o755, 0)
	}
	dir("tmp", 0o1777, 0)
	dir("data", 0o700, uid)

	bin, err := os.ReadFile(binary) //nolint:gosec // the binary the caller names
	if err != nil {
		return nil, "", err
	}
	static, err := isStatic(binary)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", binary, err)
	}
	if !static {
		return nil, "", fmt.Errorf("%s is not a static binary: build it with CGO_ENABLED=0", binary)
	}
	file("usr/local/bin/counter", 0o755, bin)
	ca, err := os.ReadFile(certs) //nolint:gosec // the CA bundle the caller names
	if err != nil {
		return nil, "", fmt.Errorf("CA certificates (apt-get install ca-certificates): %w", err)
	}
	file("etc/ssl/certs/ca-certificates.crt", 0o644, ca)
	file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/data:/sbin/nologin\n", userName, uid, uid, userName))
	file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", userName, uid))
	file("etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n"))

	// The zone files, without Debian's duplicate posix/ and right/ trees.
	dir("usr/share/zoneinfo", 0o755, 0)
	err = filepath.WalkDir(zoneinfo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(zoneinfo, p)
		if err != nil || rel == "." {
			return err
		}
		if top := strings.Split(rel, string(filepath.Separator))[0]; top == "posix" || top == "right" {
			return filepath.SkipDir
		}
		name := path.Join("usr/share/zoneinfo", filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			dir(name, 0o755, 0)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}})
		case d.Type().IsRegular():
			b, err := os.ReadFile(p) //nolint:gosec // a file under the zoneinfo directory the caller names
			if err != nil {
				return err
			}
			file(name, 0o644, b)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("time zones (apt-get install tzdata): %w", err)
	}

	sort.SliceStable(entries, func(i, j int) bool { return entries[i].hdr.Name < entries[j].hdr.Name })
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		e.hdr.ModTime = epoch
		e.hdr.Format = tar.FormatPAX
		if e.hdr.Uid != 0 {
			e.hdr.Uname, e.hdr.Gname = userName, userName
		} else {
			e.hdr.Uname, e.hdr.Gname = "root", "root"
		}
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diff := sha256.Sum256(raw.Bytes())
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(zw, &raw); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), "sha256:" + hex.EncodeToString(diff[:]), nil
}

// isStatic reports whether binary is an ELF file without a program
// interpreter (PT_INTERP): the image has no libc or loader to run one.
func isStatic(binary string) (bool, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
