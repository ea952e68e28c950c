package main

import (
	"fmt"
)

// Rows of the table, in order.
const (
	rowSeqWrite  = "seqwrite"
	rowSeqRead   = "seqread"
	rowCPU       = "cpu"
	rowTreeOut   = "treeout"
	rowTreePar   = "treepar"
	rowSmallTree = "smalltree"
	rowTreeIn    = "treein"
	rowRand4K    = "rand4k"
	rowRand1M    = "rand1m"
	rowCreate    = "create"
	rowReadSmall = "readsmall"
	rowList      = "list"
	rowListReq   = "listreq"
	rowRSS       = "rss"
)

var rowOrder = []string{rowSeqWrite, rowSeqRead, rowCPU, rowTreeOut, rowTreePar, rowSmallTree, rowTreeIn,
	rowRand4K, rowRand1M, rowCreate, rowReadSmall, rowList, rowListReq, rowRSS}

// Workload groups, for -workloads: each names the rows it measures.
var workloadGroups = []struct {
	name string
	rows []string
}{
	{"seq", []string{rowSeqWrite, rowSeqRead, rowCPU}},
	{"tree", []string{rowTreeOut, rowTreePar, rowTreeIn}},
	{"smalltree", []string{rowSmallTree}},
	{"random", []string{rowRand4K, rowRand1M}},
	{"files", []string{rowCreate, rowReadSmall}},
	{"list", []string{rowList, rowListReq}},
}

// lessIsBetter rows: their ratios are read the other way.
func lessIsBetter(row string) bool {
	return row == rowCPU || row == rowListReq || row == rowRSS
}

func rowUnit(row string) string {
	switch row {
	case rowSeqWrite, rowSeqRead, rowTreeOut, rowTreePar, rowTreeIn:
		return "MiB/s"
	case rowCPU:
		return "CPU-s/GiB"
	case rowRand4K, rowRand1M:
		return "reads/s"
	case rowCreate, rowReadSmall, rowSmallTree:
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
	case rowCPU:
		return "client CPU per GiB read"
	case rowTreeOut:
		return "cp -r of the tree out"
	case rowTreePar:
		return "parallel cp of the tree out"
	case rowSmallTree:
		return "cp -r of the small files out"
	case rowTreeIn:
		return "cp -r of the tree in"
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
	case rowCPU:
		return "Client CPU seconds per GiB of that read (less is better)"
	case rowTreeOut:
		return fmt.Sprintf("`cp -r` of %d files of %s out, cold (MiB/s)", c.treeFiles, formatSize(c.treeFileSize))
	case rowTreePar:
		return fmt.Sprintf("%d `cp` at once, %d of those files each, cold (MiB/s)", c.copyJobs, (c.treeFiles+c.copyJobs-1)/c.copyJobs)
	case rowSmallTree:
		return fmt.Sprintf("`cp -r` of %s files of %s out, cold (files/s)", commas(int64(c.smallTreeFiles)), formatSize(c.smallTreeSize))
	case rowTreeIn:
		return fmt.Sprintf("`cp -r` of the %d x %s tree into the mount (MiB/s)", c.treeFiles, formatSize(c.treeFileSize))
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

// measures reports whether the run measures row (its group is in -workloads).
func (b *bench) measures(row string) bool {
	for _, g := range workloadGroups {
		for _, r := range g.rows {
			if r == row {
				return b.cfg.workloads[g.name]
			}
		}
	}
	return row == rowRSS
}
