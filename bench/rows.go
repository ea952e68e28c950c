package main

import (
	"fmt"
)

// colCeiling is the column of the SDK ceiling.
const colCeiling = "ceiling"

// Rows of the table, in order.
const (
	rowSeqWrite  = "seqwrite"
	rowSeqRead   = "seqread"
	rowRand4K    = "rand4k"
	rowRand1M    = "rand1m"
	rowCreate    = "create"
	rowReadSmall = "readsmall"
	rowList      = "list"
	rowListReq   = "listreq"
	rowRSS       = "rss"
)

var rowOrder = []string{rowSeqWrite, rowSeqRead, rowRand4K, rowRand1M, rowCreate, rowReadSmall, rowList, rowListReq, rowRSS}

func rowUnit(row string) string {
	switch row {
	case rowSeqWrite, rowSeqRead:
		return "MiB/s"
	case rowRand4K, rowRand1M:
		return "reads/s"
	case rowCreate, rowReadSmall:
		return "files/s"
	case rowList:
		return "entries/s"
	case rowListReq:
		return "requests"
	case rowRSS:
		return "MiB"
	}
	return ""
}

func rowLabelShort(row string) string {
	switch row {
	case rowSeqWrite:
		return "sequential write"
	case rowSeqRead:
		return "sequential read, cold"
	case rowRand4K:
		return "random 4 KiB reads"
	case rowRand1M:
		return "random 1 MiB reads"
	case rowCreate:
		return "create 4 KiB files"
	case rowReadSmall:
		return "read 4 KiB files back, cold"
	case rowList:
		return "ls -l"
	case rowListReq:
		return "S3 requests of ls -l"
	case rowRSS:
		return "peak RSS"
	}
	return row
}

func (b *bench) rowLabel(row string) string {
	c := b.cfg
	switch row {
	case rowSeqWrite:
		return fmt.Sprintf("Sequential write, %s, 1 MiB writes (MiB/s)", formatSize(c.size))
	case rowSeqRead:
		return fmt.Sprintf("Sequential read, %s, cold (MiB/s)", formatSize(c.size))
	case rowRand4K:
		return fmt.Sprintf("Random 4 KiB reads, %d one at a time (reads/s)", c.rand4k)
	case rowRand1M:
		return fmt.Sprintf("Random 1 MiB reads, %d one at a time (reads/s = MiB/s)", c.rand1m)
	case rowCreate:
		return fmt.Sprintf("Create %s files of 4 KiB (files/s)", commas(int64(c.smallFiles)))
	case rowReadSmall:
		return fmt.Sprintf("Read the %s files back, cold (files/s)", commas(int64(c.smallFiles)))
	case rowList:
		return fmt.Sprintf("`ls -l` of %s entries (entries/s)", commas(int64(c.listFiles)))
	case rowListReq:
		return "S3 requests sent by that `ls -l` (fewer is better)"
	case rowRSS:
		return "Peak RSS of the mount process, MiB (less is better)"
	}
	return row
}
