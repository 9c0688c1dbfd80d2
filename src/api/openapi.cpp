// The OpenAPI document served at /api/v1/openapi.json. Keep it in step with rest_api.cpp
// and docs/api.md (tests/api checks that every route it lists answers).
#include <boost/json.hpp>
#include <string>

#include "api/rest_api.hpp"
#include "api/tus_routes.hpp"

namespace pirus::api {

namespace {

const char* base_document() {
  return R"JSON({
 "openapi": "3.1.0",
 "info": {
  "title": "Pirus REST API",
  "version": "0.1.0",
  "description": "Install containerised pipelines, upload files, run and watch jobs. See docs/api.md."
 },
 "paths": {
  "/api/v1/health": {
   "get": {
    "summary": "Service health",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/openapi.json": {
   "get": {
    "summary": "This document",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/pipelines": {
   "get": {
    "summary": "List pipelines",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "items": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Pipeline"
           }
          },
          "next_cursor": {
           "type": "string"
          }
         }
        }
       }
      }
     }
    }
   },
   "post": {
    "summary": "Install a pipeline from a zip sent as the body",
    "parameters": [
     {
      "name": "filename",
      "in": "query",
      "schema": {
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/zip": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      }
     }
    },
    "responses": {
     "202": {
      "description": "Accepted: the image build runs in the background",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Pipeline"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/pipelines/install": {
   "post": {
    "summary": "Install from an uploaded file or a server-local path",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "properties": {
         "file_id": {
          "type": "integer"
         },
         "path": {
          "type": "string"
         }
        }
       }
      }
     }
    },
    "responses": {
     "202": {
      "description": "Accepted",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Pipeline"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/pipelines/{id}": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "get": {
    "summary": "Get a pipeline (with manifest and form)",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Pipeline"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   },
   "delete": {
    "summary": "Uninstall",
    "responses": {
     "204": {
      "description": "Removed"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/pipelines/{id}/form": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    },
    {
     "name": "inputs",
     "in": "query",
     "description": "comma-separated file ids: resolves __INPUTS_FILES__ to the names those inputs get",
     "schema": {
      "type": "string"
     }
    }
   ],
   "get": {
    "summary": "The validated form.json, __GENOMES_REFS__ resolved to the installed reference databases",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/pipelines/{id}/documents/{name}": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    },
    {
     "name": "name",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string",
      "enum": [
       "about",
       "help",
       "icon",
       "license",
       "readme"
      ]
     }
    }
   ],
   "get": {
    "summary": "A package document",
    "responses": {
     "200": {
      "description": "The document"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/pipelines/{id}/build-log": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "get": {
    "summary": "Image build output",
    "responses": {
     "200": {
      "description": "text/plain"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/files": {
   "get": {
    "summary": "List files",
    "parameters": [
     {
      "name": "status",
      "in": "query",
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "job_source_id",
      "in": "query",
      "schema": {
       "type": "integer"
      }
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer"
      }
     },
     {
      "name": "cursor",
      "in": "query",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "items": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/File"
           }
          },
          "next_cursor": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     }
    }
   },
   "post": {
    "summary": "Upload a file (the body is the content)",
    "parameters": [
     {
      "name": "name",
      "in": "query",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "sha256",
      "in": "query",
      "schema": {
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/octet-stream": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/File"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/files/{id}": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "get": {
    "summary": "Get a file",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/File"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   },
   "delete": {
    "summary": "Delete a file",
    "responses": {
     "204": {
      "description": "Deleted"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/files/{id}/content": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "get": {
    "summary": "Download (supports Range)",
    "responses": {
     "200": {
      "description": "The bytes"
     },
     "206": {
      "description": "Partial content"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "416": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs": {
   "get": {
    "summary": "List jobs",
    "parameters": [
     {
      "name": "status",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "description": "comma-separated statuses"
     },
     {
      "name": "pipeline_id",
      "in": "query",
      "schema": {
       "type": "integer"
      }
     },
     {
      "name": "order",
      "in": "query",
      "schema": {
       "type": "string",
       "enum": [
        "newest",
        "oldest",
        "queue"
       ]
      }
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer"
      }
     },
     {
      "name": "cursor",
      "in": "query",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "items": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Job"
           }
          },
          "next_cursor": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     }
    }
   },
   "post": {
    "summary": "Create a job",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/NewJob"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "get": {
    "summary": "Get a job",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   },
   "delete": {
    "summary": "Delete a finished job and its workspace",
    "responses": {
     "204": {
      "description": "Deleted"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}/pause": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "post": {
    "summary": "Pause a running job",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}/resume": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "post": {
    "summary": "Resume a paused job",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}/cancel": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "post": {
    "summary": "Cancel a job",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Job"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}/logs/{stream}": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    },
    {
     "name": "stream",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string",
      "enum": [
       "stdout",
       "stderr"
      ]
     }
    },
    {
     "name": "tail",
     "in": "query",
     "schema": {
      "type": "integer",
      "minimum": 0,
      "maximum": 10000000
     },
     "description": "only the last N lines"
    },
    {
     "name": "offset",
     "in": "query",
     "schema": {
      "type": "integer",
      "minimum": 0
     },
     "description": "first byte to return (206)"
    },
    {
     "name": "length",
     "in": "query",
     "schema": {
      "type": "integer",
      "minimum": 1
     },
     "description": "with offset: at most this many bytes"
    },
    {
     "name": "Range",
     "in": "header",
     "schema": {
      "type": "string"
     },
     "description": "bytes=first-last (206), when no query parameter is given"
    },
    {
     "name": "tail",
     "in": "query",
     "schema": {
      "type": "integer"
     }
    },
    {
     "name": "follow",
     "in": "query",
     "schema": {
      "type": "boolean"
     },
     "description": "true: stream the log as it is written (chunked) until the job ends"
    }
   ],
   "get": {
    "summary": "Job output",
    "responses": {
     "200": {
      "description": "text/plain"
     },
     "206": {
      "description": "the requested bytes, with Content-Range"
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "416": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}/monitoring": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "get": {
    "summary": "Resource usage: latest sample, limits, totals and bounded history",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Monitoring"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/databases": {
   "get": {
    "summary": "List reference databases",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "items": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Database"
           }
          },
          "next_cursor": {
           "type": "string"
          }
         }
        }
       }
      }
     }
    }
   },
   "post": {
    "summary": "Add a reference database from an archive sent as the body (zip, tar, tar.gz, tar.bz2, tar.xz)",
    "parameters": [
     {
      "name": "name",
      "in": "query",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/octet-stream": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Database"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/databases/{name}": {
   "parameters": [
    {
     "name": "name",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string",
      "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"
     }
    }
   ],
   "get": {
    "summary": "Get a reference database",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Database"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     }
    }
   },
   "delete": {
    "summary": "Remove a reference database",
    "responses": {
     "204": {
      "description": "Removed"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/jobs/{id}/notify": {
   "parameters": [
    {
     "$ref": "#/components/parameters/Id"
    }
   ],
   "post": {
    "summary": "Report progress from inside the job (HTTP progress channel)",
    "security": [
     {
      "jobToken": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
         "progress": {
          "type": "number"
         },
         "label": {
          "type": "string",
          "maxLength": 200
         },
         "status": {
          "type": "string",
          "enum": [
           "running",
           "finalizing",
           "error"
          ]
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "Applied",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/databases/import": {
   "post": {
    "summary": "Add a reference database by copying a server directory (inside databases.import_root)",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "name",
         "path"
        ],
        "properties": {
         "name": {
          "type": "string"
         },
         "path": {
          "type": "string"
         }
        }
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Database"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  },
  "/api/v1/events/stats": {
   "get": {
    "summary": "Connected event clients and drops",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/events": {
   "get": {
    "summary": "Push events: a WebSocket (send an upgrade request) or server-sent events (Accept: text/event-stream); see docs/api.md",
    "parameters": [
     {
      "name": "kinds",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "description": "comma-separated: job_updated, job_log, file_updated, pipeline_updated"
     },
     {
      "name": "job",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "description": "comma-separated job ids"
     },
     {
      "name": "file",
      "in": "query",
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "pipeline",
      "in": "query",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "101": {
      "description": "Switching to the WebSocket protocol"
     },
     "200": {
      "description": "text/event-stream"
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "406": {
      "$ref": "#/components/responses/Problem"
     }
    }
   }
  }
 },
 "components": {
  "schemas": {
   "File": {
    "type": "object",
    "properties": {
     "id": {
      "type": "integer"
     },
     "name": {
      "type": "string"
     },
     "type": {
      "type": "string"
     },
     "size": {
      "type": "integer"
     },
     "upload_offset": {
      "type": "integer"
     },
     "status": {
      "type": "string",
      "enum": [
       "uploading",
       "uploaded",
       "checked",
       "error"
      ]
     },
     "sha256": {
      "type": "string"
     },
     "job_source_id": {
      "type": [
       "integer",
       "null"
      ]
     },
     "tags": {
      "type": "string"
     },
     "created_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "updated_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "download_url": {
      "type": "string"
     }
    }
   },
   "Pipeline": {
    "type": "object",
    "properties": {
     "id": {
      "type": "integer"
     },
     "name": {
      "type": "string"
     },
     "version": {
      "type": "string"
     },
     "type": {
      "type": "string",
      "enum": [
       "job",
       "importer",
       "exporter",
       "reporter"
      ]
     },
     "engine": {
      "type": "string"
     },
     "status": {
      "type": "string",
      "enum": [
       "initializing",
       "installing",
       "ready",
       "error"
      ]
     },
     "description": {
      "type": "string"
     },
     "image": {
      "type": "string"
     },
     "error_reason": {
      "type": "string"
     },
     "created_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "updated_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "installed_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "documents": {
      "type": "object",
      "additionalProperties": {
       "type": "string"
      }
     },
     "build_log_url": {
      "type": "string"
     },
     "manifest": {
      "type": "object"
     },
     "form": {
      "type": "object"
     }
    }
   },
   "Resources": {
    "type": "object",
    "properties": {
     "cpus": {
      "type": "number"
     },
     "memory_mb": {
      "type": "integer"
     },
     "pids": {
      "type": "integer"
     }
    }
   },
   "Job": {
    "type": "object",
    "properties": {
     "id": {
      "type": "integer"
     },
     "pipeline_id": {
      "type": "integer"
     },
     "name": {
      "type": "string"
     },
     "status": {
      "type": "string",
      "enum": [
       "waiting",
       "initializing",
       "running",
       "pause",
       "finalizing",
       "done",
       "canceled",
       "error"
      ]
     },
     "priority": {
      "type": "integer"
     },
     "parameters": {
      "type": "object"
     },
     "resources": {
      "$ref": "#/components/schemas/Resources"
     },
     "progress": {
      "type": "number"
     },
     "progress_label": {
      "type": "string"
     },
     "exit_code": {
      "type": [
       "integer",
       "null"
      ]
     },
     "error_reason": {
      "type": "string"
     },
     "inputs": {
      "type": "array",
      "items": {
       "type": "integer"
      }
     },
     "outputs": {
      "type": "array",
      "items": {
       "type": "integer"
      }
     },
     "created_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "started_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "ended_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "updated_at": {
      "type": [
       "string",
       "null"
      ],
      "format": "date-time"
     },
     "peak_memory_bytes": {
      "type": "integer"
     },
     "cpu_seconds": {
      "type": "number"
     }
    }
   },
   "NewJob": {
    "type": "object",
    "required": [
     "pipeline_id"
    ],
    "properties": {
     "pipeline_id": {
      "type": "integer"
     },
     "name": {
      "type": "string"
     },
     "inputs": {
      "type": "array",
      "items": {
       "type": "integer"
      }
     },
     "parameters": {
      "type": "object"
     },
     "priority": {
      "type": "integer"
     },
     "resources": {
      "$ref": "#/components/schemas/Resources"
     }
    }
   },
   "Problem": {
    "type": "object",
    "properties": {
     "type": {
      "type": "string"
     },
     "title": {
      "type": "string"
     },
     "status": {
      "type": "integer"
     },
     "detail": {
      "type": "string"
     }
    }
   },
   "UsageSample": {
    "type": "object",
    "properties": {
     "at": {
      "type": "string"
     },
     "cpu_percent": {
      "type": "number"
     },
     "cpu_seconds": {
      "type": "number"
     },
     "memory_bytes": {
      "type": "integer"
     },
     "block_read_bytes": {
      "type": "integer"
     },
     "block_write_bytes": {
      "type": "integer"
     },
     "net_rx_bytes": {
      "type": "integer"
     },
     "net_tx_bytes": {
      "type": "integer"
     },
     "pids": {
      "type": "integer"
     }
    }
   },
   "Monitoring": {
    "type": "object",
    "properties": {
     "job_id": {
      "type": "integer"
     },
     "status": {
      "type": "string"
     },
     "interval_seconds": {
      "type": "number"
     },
     "limits": {
      "type": "object",
      "properties": {
       "cpus": {
        "type": "number"
       },
       "memory_bytes": {
        "type": "integer"
       },
       "pids": {
        "type": "integer"
       }
      }
     },
     "current": {
      "oneOf": [
       {
        "$ref": "#/components/schemas/UsageSample"
       },
       {
        "type": "null"
       }
      ]
     },
     "peak_memory_bytes": {
      "type": "integer"
     },
     "cpu_seconds": {
      "type": "number"
     },
     "cpu_percent_avg": {
      "type": "number"
     },
     "history": {
      "type": "object",
      "properties": {
       "samples": {
        "type": "integer"
       },
       "samples_per_point": {
        "type": "integer"
       },
       "capacity": {
        "type": "integer"
       },
       "points": {
        "type": "array",
        "items": {
         "$ref": "#/components/schemas/UsageSample"
        }
       }
      }
     }
    }
   },
   "Database": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string"
     },
     "size": {
      "type": "integer"
     },
     "file_count": {
      "type": "integer"
     },
     "created_at": {
      "type": "string",
      "format": "date-time"
     }
    }
   }
  },
  "responses": {
   "Problem": {
    "description": "An error (RFC 9457 problem)",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   }
  },
  "securitySchemes": {
   "jobToken": {
    "type": "http",
    "scheme": "bearer",
    "description": "The job's notify token (PIRUS_NOTIFY_TOKEN)"
   }
  },
  "parameters": {
   "Id": {
    "name": "id",
    "in": "path",
    "required": true,
    "schema": {
     "type": "integer",
     "minimum": 1
    }
   }
  }
 }
})JSON";
}

}  // namespace

// Route groups kept in their own files contribute their paths here.
const char* openapi_document() {
  static const std::string merged = [] {
    boost::json::value doc = boost::json::parse(base_document());
    auto& paths = doc.as_object()["paths"].as_object();
    const boost::json::value tus = boost::json::parse(tus_openapi_paths());
    for (const auto& [path, item] : tus.as_object()) {
      paths[path] = item;
    }
    return boost::json::serialize(doc);
  }();
  return merged.c_str();
}

}  // namespace pirus::api
