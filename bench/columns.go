package main

import "fmt"

// The columns of a run: the SDK ceiling and ssecfs over each HTTP version asked (-protocols), then the peers as they
// are (s3fs speaks HTTP/1.1 through libcurl; rclone what its Go client negotiates).

// colCeiling is the tool name of the SDK ceiling.
const colCeiling = "ceiling"

type column struct {
	key   string // in the results: "ceiling 1.1", "ssecfs 2", "s3fs"
	tool  string // colCeiling, "ssecfs", "s3fs" or "rclone"
	proto string // "1.1" or "2" for the ceiling and ssecfs; "" for a peer
}

func (b *bench) columns() []column {
	var cols []column
	for _, p := range b.cfg.protocols {
		cols = append(cols, column{key: colCeiling + " " + p, tool: colCeiling, proto: p})
		if b.hasTool("ssecfs") {
			cols = append(cols, column{key: "ssecfs " + p, tool: "ssecfs", proto: p})
		}
	}
	for _, t := range b.cfg.tools {
		if t != "ssecfs" {
			cols = append(cols, column{key: t, tool: t})
		}
	}
	return cols
}

// colKey is the results key of tool over proto (a peer's is its name).
func colKey(tool, proto string) string {
	if tool == colCeiling || tool == "ssecfs" {
		return tool + " " + proto
	}
	return tool
}

// bucket is the bucket a column writes into; what every column reads is in dataBucket and listBucket.
func (c column) bucket() string {
	name := c.tool
	if c.tool == colCeiling {
		name = "sdk"
	}
	if c.proto != "" {
		name += "-http" + map[string]string{"1.1": "1", "2": "2"}[c.proto]
	}
	return "bench-" + name
}

// label names the column in the log and the checks: "ssecfs over HTTP/2".
func (c column) label() string {
	name := c.tool
	if c.tool == colCeiling {
		name = "SDK ceiling"
	}
	if c.proto == "" {
		return name
	}
	return fmt.Sprintf("%s over HTTP/%s", name, c.proto)
}
