// Original file: proto/lookaside/v1/admin.proto


export interface ListServicesRequest {
}

export interface ListServicesRequest__Output {
}
